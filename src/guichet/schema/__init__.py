"""Table Schemas (Frictionless, with the schema-snds extensions ``nomenclature`` and ``length``) and the
nomenclatures the package ships."""

from guichet.schema.load import load_schema, parse_schema
from guichet.schema.model import FieldSpec, ForeignKey, Length, NomenclatureRef, TableSchema, breaking_changes
from guichet.schema.nomenclatures import NOT_AVAILABLE, Nomenclature, resolve

__all__ = [
    "NOT_AVAILABLE",
    "FieldSpec",
    "ForeignKey",
    "Length",
    "Nomenclature",
    "NomenclatureRef",
    "TableSchema",
    "breaking_changes",
    "load_schema",
    "parse_schema",
    "resolve",
]
