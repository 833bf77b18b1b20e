"""HealthDCAT-AP: the catalogue as an RDF graph (rdflib), one ``dcat:Dataset`` per complete product.

Building is apart from validating (``shacl.py``) and from storing (services). The graph is self-contained:
every vocabulary concept it points to carries its ``rdf:type`` and labels, copied from the subsets shipped
in ``vocabularies/``, so that anyone can validate the exported file with the pinned shapes alone.
Each product's tables are described in CSVW (``csvw:Table`` / ``csvw:Column``) under a sample distribution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from guichet.catalogue.characterise import Characterisation
from guichet.catalogue.model import LANGS, ProductInfo, pick

VOCABULARIES = Path(__file__).parent / "vocabularies"

# A plain namespace: rdflib's DCAT class predates DCAT 3 (dcat:version) and warns on its terms.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DPV = Namespace("https://w3id.org/dpv#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
OA = Namespace("http://www.w3.org/ns/oa#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
AUTH = "http://publications.europa.eu/resource/authority/"
HEALTH_CATEGORY = "http://healthdataportal.eu/resource/authority/healthcategories/"
PUBLISHER_TYPE = "http://purl.org/adms/publishertype/"
WIKIDATA = "http://www.wikidata.org/entity/"
CSVW_STANDARD = URIRef("http://www.w3.org/ns/csvw")
TABLE_SCHEMA_STANDARD = URIRef("https://specs.frictionlessdata.io/table-schema/")
HEALTHDCAT_STANDARD = URIRef("https://healthdcat-ap.github.io/")
THEME_SCHEME = URIRef(AUTH + "data-theme")
COPIED = (RDF.type, SKOS.prefLabel, RDFS.label, DCTERMS.title)

# Table Schema types as CSVW datatypes (https://www.w3.org/TR/tabular-data-primer/#datatypes).
CSVW_TYPES = {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean", "date": "date",
              "datetime": "dateTime", "time": "time", "year": "gYear", "yearmonth": "gYearMonth", "any": "string"}


@cache
def vocabulary_graph() -> Graph:
    g = Graph()
    for path in sorted(VOCABULARIES.glob("*.ttl")):
        g.parse(path, format="turtle")
    return g


def known_concepts() -> set[str]:
    return {str(s) for s in vocabulary_graph().subjects(RDF.type, None) if isinstance(s, URIRef)}


@dataclass(frozen=True)
class ProductExtras:
    """What the export says beyond the description: versions, size, quality label, characterisation."""

    version: str | None = None
    version_notes: str | None = None
    byte_size: int = 0
    quality_grade: str | None = None
    quality_report_url: str | None = None
    characterisation: Characterisation | None = None


class GraphBuilder:
    def __init__(self, props: dict[str, Any], now: datetime) -> None:
        self.props = props
        self.base = str(props["base_url"]).rstrip("/")
        self.now = now
        self.g = Graph()
        self.used: set[URIRef] = set()
        for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("adms", ADMS), ("csvw", CSVW),
                           ("dcatap", DCATAP), ("dpv", DPV), ("dqv", DQV), ("healthdcatap", HEALTH),
                           ("vcard", VCARD), ("skos", SKOS), ("oa", OA)):
            self.g.bind(prefix, ns)

    # --- helpers ---------------------------------------------------------------------------------
    def iri(self, path: str) -> URIRef:
        return URIRef(self.base + "/" + "/".join(quote(p, safe="") for p in path.strip("/").split("/")))

    def concept(self, iri: str) -> URIRef:
        ref = URIRef(iri)
        self.used.add(ref)
        return ref

    def texts(self, subject: URIRef | BNode, predicate: URIRef, text: dict[str, str]) -> None:
        for lang in LANGS:
            if text.get(lang):
                self.g.add((subject, predicate, Literal(text[lang], lang=lang)))

    def _mailto(self, address: str) -> URIRef:
        return URIRef(address if address.startswith("mailto:") else "mailto:" + address)

    # --- shared nodes ----------------------------------------------------------------------------
    def publisher(self) -> URIRef:
        p = self.props
        agent = self.iri("agents/publisher")
        if (agent, RDF.type, FOAF.Agent) not in self.g:
            self.g.add((agent, RDF.type, FOAF.Agent))
            self.g.add((agent, RDF.type, FOAF.Organization))
            self.g.add((agent, FOAF.name, Literal(p["publisher_name"])))
            self.g.add((agent, FOAF.homepage, URIRef(p["publisher_homepage"])))
            self.g.add((agent, FOAF.mbox, self._mailto(p["publisher_email"])))
            self.g.add((agent, HEALTH.publisherType, self.concept(PUBLISHER_TYPE + p["publisher_type"])))
            self.g.add((agent, HEALTH.publisherNote, Literal(p["publisher_note"], lang="en")))
            self.g.add((agent, HEALTH.trustedDataHolder, Literal(bool(p.get("trusted_data_holder", True)))))
        return agent

    def hdab(self) -> URIRef:
        p = self.props
        agent = self.iri("agents/hdab")
        if (agent, RDF.type, FOAF.Agent) not in self.g:
            self.g.add((agent, RDF.type, FOAF.Agent))
            self.g.add((agent, RDF.type, FOAF.Organization))
            self.g.add((agent, FOAF.name, Literal(p["hdab_name"])))
            self.g.add((agent, FOAF.homepage, URIRef(p["hdab_homepage"])))
            self.g.add((agent, FOAF.mbox, self._mailto(p["hdab_email"])))
        return agent

    def contact(self) -> BNode:
        p = self.props
        node = BNode("contact")
        if (node, RDF.type, VCARD.Kind) not in self.g:
            self.g.add((node, RDF.type, VCARD.Kind))
            self.g.add((node, VCARD.fn, Literal(p["contact_name"])))
            self.g.add((node, VCARD.hasEmail, self._mailto(p["contact_email"])))
            self.g.add((node, VCARD.hasURL, URIRef(p["contact_url"])))
        return node

    def legislation(self) -> URIRef:
        return self.concept(self.props.get("applicable_legislation") or "http://data.europa.eu/eli/reg/2025/327/oj")

    def legal_basis(self) -> URIRef:
        node = self.iri("legal-basis")
        if (node, RDF.type, DPV.LegalBasis) not in self.g:
            self.g.add((node, RDF.type, DPV.LegalBasis))
            self.g.add((node, DCTERMS.description, Literal(self.props["legal_basis"], lang="en")))
            self.g.add((node, DCTERMS.source, self.concept(self.props["legal_basis_source"])))
        return node

    def purpose(self) -> URIRef:
        node = self.iri("purpose")
        if (node, RDF.type, DPV.Purpose) not in self.g:
            self.g.add((node, RDF.type, DPV.Purpose))
            self.g.add((node, DCTERMS.description, Literal(self.props["purpose"], lang="en")))
        return node

    def producer(self, product: ProductInfo) -> URIRef | None:
        if not product.producer:
            return None
        agent = self.iri(f"producers/{product.producer}")
        if (agent, RDF.type, FOAF.Agent) not in self.g:
            self.g.add((agent, RDF.type, FOAF.Agent))
            self.g.add((agent, FOAF.name, Literal(product.producer_label or product.producer)))
        return agent

    # --- a product -------------------------------------------------------------------------------
    def dataset(self, product: ProductInfo, extras: ProductExtras) -> URIRef:
        g, p = self.g, self.props
        ds = self.iri(f"catalogue/{product.id}")
        page = self.iri(f"catalogue/{product.id}")
        g.add((ds, RDF.type, DCAT.Dataset))
        self.texts(ds, DCTERMS.title, product.title)
        self.texts(ds, DCTERMS.description, product.description)
        g.add((ds, DCTERMS.identifier, Literal(str(ds), datatype=XSD.anyURI)))
        g.add((ds, DCTERMS.accessRights, self.concept(AUTH + "access-right/" + product.properties.get(
            "access_rights", p["access_rights"]))))
        g.add((ds, DCATAP.applicableLegislation, self.legislation()))
        g.add((ds, DCAT.contactPoint, self.contact()))
        g.add((ds, DCTERMS.publisher, self.publisher()))
        g.add((ds, HEALTH.hdab, self.hdab()))
        creator = self.producer(product)
        if creator is not None:
            g.add((ds, DCTERMS.creator, creator))
        g.add((ds, DCTERMS.spatial, self.concept(AUTH + "country/" + product.coverage.get("territory", "FRA"))))
        g.add((ds, DCTERMS.type, self.concept(AUTH + "dataset-type/PERSONAL_DATA")))
        for theme in product.themes:
            g.add((ds, DCAT.theme, self.concept(AUTH + "data-theme/" + theme)))
        for cat in product.properties.get("health_categories", []):
            g.add((ds, HEALTH.healthCategory, self.concept(HEALTH_CATEGORY + cat)))
        for th in product.properties.get("health_themes", []) or ["Q12136"]:
            g.add((ds, HEALTH.healthTheme, self.concept(WIKIDATA + th)))
        for kw in product.keywords:
            g.add((ds, DCAT.keyword, Literal(kw)))
        g.add((ds, DPV.hasPurpose, self.purpose()))
        g.add((ds, DQV.hasLegalBasis, self.legal_basis()))
        prov = BNode(f"provenance-{product.id}")
        g.add((prov, RDF.type, DCTERMS.ProvenanceStatement))
        g.add((prov, RDFS.label, Literal(
            f"Deposited by {product.producer_label or product.producer} through the hub's deposit channel: "
            "validated against its Table Schema, pseudonymised by the key custodian, quality-checked, "
            f"then published. Dictionary loaded from {product.source}.", lang="en")))
        g.add((ds, DCTERMS.provenance, prov))
        g.add((ds, DCAT.landingPage, page))
        g.add((page, RDF.type, FOAF.Document))
        for lang in ("FRA", "ENG"):
            g.add((ds, DCTERMS.language, self.concept(AUTH + "language/" + lang)))
        if product.frequency:
            g.add((ds, DCTERMS.accrualPeriodicity, self.concept(AUTH + "frequency/" + product.frequency)))
        g.add((ds, DCTERMS.conformsTo, TABLE_SCHEMA_STANDARD))
        self.used.add(TABLE_SCHEMA_STANDARD)
        g.add((ds, DCTERMS.issued, Literal(product.created_at.replace(microsecond=0), datatype=XSD.dateTime)))
        g.add((ds, DCTERMS.modified, Literal(product.updated_at.replace(microsecond=0), datatype=XSD.dateTime)))
        self._temporal(ds, product, extras)
        self._characterisation(ds, product, extras)
        self._quality(ds, extras)
        if extras.version:
            g.add((ds, DCAT.version, Literal(extras.version)))
        if extras.version_notes:
            g.add((ds, ADMS.versionNotes, Literal(extras.version_notes, lang="en")))
        g.add((ds, DCAT.distribution, self._distribution(product, extras)))
        g.add((ds, ADMS.sample, self.sample(product)))
        return ds

    def _temporal(self, ds: URIRef, product: ProductInfo, extras: ProductExtras) -> None:
        start = product.coverage.get("start")
        if not start:
            return
        period = BNode(f"temporal-{product.id}")
        self.g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        self.g.add((period, DCAT.startDate, _date_literal(str(start))))
        if product.coverage.get("end"):
            self.g.add((period, DCAT.endDate, _date_literal(str(product.coverage["end"]))))
        self.g.add((ds, DCTERMS.temporal, period))

    def _characterisation(self, ds: URIRef, product: ProductInfo, extras: ProductExtras) -> None:
        c = extras.characterisation
        population = product.coverage.get("population") or {}
        if isinstance(population, dict):
            self.texts(ds, HEALTH.populationCoverage, population)
        if c is None:
            return
        for prop, value in ((HEALTH.numberOfRecords, c.records), (HEALTH.numberOfUniqueIndividuals, c.individuals),
                            (HEALTH.minTypicalAge, c.age_p5), (HEALTH.maxTypicalAge, c.age_p95)):
            if value is not None:
                self.g.add((ds, prop, Literal(int(value), datatype=XSD.nonNegativeInteger)))

    def _quality(self, ds: URIRef, extras: ProductExtras) -> None:
        if not extras.quality_grade:
            return
        cert = BNode(f"quality-{ds.split('/')[-1]}")
        self.g.add((cert, RDF.type, DQV.QualityCertificate))
        self.g.add((cert, OA.hasTarget, ds))
        self.g.add((cert, OA.motivatedBy, DQV.qualityAssessment))
        self.g.add((cert, RDFS.label, Literal(f"Quality label: {extras.quality_grade}", lang="en")))
        if extras.quality_report_url:
            self.g.add((cert, OA.hasBody, URIRef(extras.quality_report_url)))
        self.g.add((ds, DQV.hasQualityAnnotation, cert))

    def _rights(self, key: str) -> BNode:
        node = BNode(f"rights-{key}")
        self.g.add((node, RDF.type, DCTERMS.RightsStatement))
        self.g.add((node, RDFS.label, Literal(
            "Available only inside the hub's secure workspaces, to the people named in a data permit "
            "(EHDS Art 68), as a pseudonymised extract; results leave through output checking.", lang="en")))
        return node

    def _distribution(self, product: ProductInfo, extras: ProductExtras) -> URIRef:
        g = self.g
        dist = self.iri(f"catalogue/{product.id}/distribution/parquet")
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(f"{pick(product.title, 'en')} — encrypted Parquet in a secure workspace",
                                             lang="en")))
        g.add((dist, DCAT.accessURL, self.iri(f"catalogue/{product.id}")))
        g.add((dist, DCATAP.applicableLegislation, self.legislation()))
        # The size of the published versions' files (0 while nothing is deposited).
        g.add((dist, DCAT.byteSize, Literal(max(0, extras.byte_size), datatype=XSD.nonNegativeInteger)))
        g.add((dist, DCTERMS.format, self.concept(AUTH + "file-type/PARQUET")))
        g.add((dist, DCTERMS.rights, self._rights(product.id)))
        g.add((dist, DCATAP.availability, self.concept(AUTH + "planned-availability/AVAILABLE")))
        return dist

    def sample(self, product: ProductInfo) -> URIRef:
        """The data dictionary as a sample distribution: one ``csvw:Table`` per table of the product."""
        g = self.g
        sample = self.iri(f"catalogue/{product.id}/dictionary")
        g.add((sample, RDF.type, DCAT.Distribution))
        g.add((sample, DCTERMS.title, Literal(f"{pick(product.title, 'en')} — data dictionary (CSVW)", lang="en")))
        g.add((sample, DCTERMS.description, Literal(
            "Tables and variables of the product, with types and descriptions, as CSV on the Web metadata. "
            "It holds no data.", lang="en")))
        g.add((sample, DCAT.accessURL, self.iri(f"catalogue/{product.id}/dictionary")))
        g.add((sample, DCAT.downloadURL, self.iri(f"api/datasets/{product.id}")))
        g.add((sample, DCTERMS.format, self.concept(AUTH + "file-type/JSON")))
        g.add((sample, DCTERMS.conformsTo, CSVW_STANDARD))
        self.used.add(CSVW_STANDARD)
        group = self.iri(f"catalogue/{product.id}/dictionary/tables")
        g.add((group, RDF.type, CSVW.TableGroup))
        g.add((sample, DCTERMS.hasPart, group))
        for table in product.tables:
            t = self.iri(f"catalogue/{product.id}/tables/{table.name}")
            g.add((group, CSVW.table, t))
            g.add((t, RDF.type, CSVW.Table))
            g.add((t, CSVW.url, self.iri(f"catalogue/{product.id}/tables/{table.name}")))
            g.add((t, DCTERMS.title, Literal(table.name)))
            self.texts(t, DCTERMS.description, table.title)
            schema = BNode(f"schema-{product.id}-{table.name}")
            g.add((t, CSVW.tableSchema, schema))
            if table.primary_key:
                g.add((schema, CSVW.primaryKey, Literal(" ".join(table.primary_key))))
            for v in table.variables:
                col = BNode(f"col-{product.id}-{table.name}-{v.name}")
                g.add((t, CSVW.column, col))
                g.add((schema, CSVW.column, col))
                g.add((col, RDF.type, CSVW.Column))
                g.add((col, CSVW.name, Literal(v.name)))
                g.add((col, CSVW.titles, Literal(v.name)))
                g.add((col, CSVW.datatype, Literal(CSVW_TYPES.get(v.type, "string"))))
                if v.required:
                    g.add((col, CSVW.required, Literal(True)))
                self.texts(col, DCTERMS.description, v.description)
        return sample

    # --- the catalogue ---------------------------------------------------------------------------
    def catalogue(self, datasets: Iterable[URIRef]) -> URIRef:
        g, p = self.g, self.props
        cat = self.iri("catalogue")
        g.add((cat, RDF.type, DCAT.Catalog))
        g.add((cat, DCTERMS.title, Literal(p.get("catalogue_title") or f"{p['publisher_name']} — catalogue", lang="fr")))
        g.add((cat, DCTERMS.description, Literal(
            p.get("catalogue_description") or "Health data products available for secondary use (EHDS Chapter IV), "
            "with their data dictionary, coverage, quality label and access conditions.", lang="en")))
        g.add((cat, DCTERMS.publisher, self.publisher()))
        g.add((cat, DCATAP.applicableLegislation, self.legislation()))
        g.add((cat, DCAT.themeTaxonomy, self.concept(str(THEME_SCHEME))))
        g.add((cat, FOAF.homepage, URIRef(self.base + "/")))
        g.add((URIRef(self.base + "/"), RDF.type, FOAF.Document))
        g.add((cat, DCTERMS.modified, Literal(self.now.replace(microsecond=0), datatype=XSD.dateTime)))
        for lang in ("FRA", "ENG"):
            g.add((cat, DCTERMS.language, self.concept(AUTH + "language/" + lang)))
        for ds in datasets:
            g.add((cat, DCAT.dataset, ds))
        return cat

    def finish(self) -> Graph:
        """Copy the types and labels of every vocabulary concept used, so the graph validates on its own."""
        vocab = vocabulary_graph()
        for ref in sorted(self.used):
            for pred in COPIED:
                for obj in vocab.objects(ref, pred):
                    self.g.add((ref, pred, obj))
        return self.g


def _date_literal(value: str) -> Literal:
    if len(value) == 4 and value.isdigit():
        return Literal(value, datatype=XSD.gYear)
    if len(value) == 7:
        return Literal(value, datatype=XSD.gYearMonth)
    return Literal(value, datatype=XSD.date)


def build_graph(props: dict[str, Any], products: list[tuple[ProductInfo, ProductExtras]], now: datetime,
                with_catalogue: bool = True) -> Graph:
    builder = GraphBuilder(props, now)
    datasets = [builder.dataset(p, e) for p, e in products]
    if with_catalogue:
        builder.catalogue(datasets)
    return builder.finish()


def serialize(graph: Graph, fmt: str) -> str:
    if fmt == "ttl":
        return graph.serialize(format="turtle")
    if fmt == "jsonld":
        return graph.serialize(format="json-ld", indent=2)
    raise ValueError(fmt)
