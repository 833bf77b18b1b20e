"""Rule sets (``rules.toml``, one per data source) and the named risks each rule protects against, with
their explanations in French and English."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from guichet.errors import BadInput

DEFAULT = "snds"
DEFAULT_THRESHOLD = 11
POLICIES = ("fail", "review", "pass")


@dataclass(frozen=True)
class RuleSet:
    name: str
    description: str
    threshold: int
    zeros: str
    negatives: str
    dominance_n: int
    dominance_k: float
    p_percent: float
    min_dof: int
    rounding_base: int
    extremes: str
    spread: str = "review"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return tomllib.loads(resources.files("guichet.airlock").joinpath("rules.toml").read_text(encoding="utf-8"))


def names() -> list[str]:
    return sorted(_table())


def load(name: str = DEFAULT, properties: dict[str, Any] | None = None) -> RuleSet:
    """The rule set ``name``; ``properties`` (a data product's or the hub's) may set ``disclosure_threshold``,
    which then replaces the set's threshold — the value the catalogue's characterisation reads."""
    table = _table()
    if name not in table:
        raise BadInput(f"rules {name!r}: unknown; one of {', '.join(names())}")
    raw = dict(table[name])
    if properties and properties.get("disclosure_threshold"):
        raw["threshold"] = int(properties["disclosure_threshold"])
    for key in ("zeros", "negatives", "extremes", "spread"):
        if raw.get(key) not in POLICIES:
            raise BadInput(f"rules {name}.{key}: one of {', '.join(POLICIES)}")
    return RuleSet(name=name, description=raw.get("description", ""), threshold=int(raw.get("threshold",
                   DEFAULT_THRESHOLD)), zeros=raw["zeros"], negatives=raw["negatives"],
                   dominance_n=int(raw["dominance_n"]), dominance_k=float(raw["dominance_k"]),
                   p_percent=float(raw["p_percent"]), min_dof=int(raw["min_dof"]),
                   rounding_base=int(raw.get("rounding_base", 0)), extremes=raw["extremes"],
                   spread=raw.get("spread", "review"))


# Each reason a cell or table can carry: (risk name, English, French).
RISKS: dict[str, tuple[str, str, str]] = {
    "threshold": ("small cell",
                  "Fewer persons than the threshold are behind this number: they could be recognised, and what "
                  "the table says about them learned.",
                  "Moins de personnes que le seuil sont derrière ce nombre : elles pourraient être reconnues, et "
                  "ce que le tableau dit d'elles appris."),
    "zero": ("group disclosure",
             "A zero tells that nobody in this group has the attribute: everyone in the group is known not to.",
             "Un zéro dit que personne dans ce groupe n'a la caractéristique : on l'apprend de chacun."),
    "negative": ("dominance undefined",
                 "Some contributions are negative: dominance and p % rules cannot be computed; a checker decides.",
                 "Certaines contributions sont négatives : les règles de dominance et du p % ne s'appliquent "
                 "pas ; un vérificateur décide."),
    "dominance": ("dominant contributor",
                  "One or two persons make most of this total (n,k rule): each can deduce the others' share.",
                  "Une ou deux personnes font l'essentiel de ce total (règle (n,k)) : chacune peut en déduire "
                  "la part des autres."),
    "p-percent": ("estimable contribution",
                  "The contributions other than the two largest are too small (p % rule): the second largest "
                  "contributor can estimate the largest one closely.",
                  "Les contributions autres que les deux plus grandes sont trop faibles (règle du p %) : le "
                  "deuxième contributeur peut estimer de près le premier."),
    "uniform": ("attribute disclosure",
                "Every record behind this statistic has the same value: it gives each person's value.",
                "Tous les enregistrements derrière cette statistique ont la même valeur : elle donne celle de "
                "chaque personne."),
    "extreme": ("exact extreme",
                "An exact minimum or maximum is one person's value.",
                "Un minimum ou un maximum exact est la valeur d'une personne."),
    "spread": ("second moment",
               "A standard deviation, with the mean and the count, gives the sum of squares: across related "
               "tables it can give one person's value away; a checker confirms the context.",
               "Un écart type, avec la moyenne et l'effectif, donne la somme des carrés : d'un tableau à "
               "l'autre, il peut révéler la valeur d'une personne ; un vérificateur confirme le contexte."),
    "dof": ("model on too few people",
            "The model has too few residual degrees of freedom: its coefficients can reveal individual values.",
            "Le modèle a trop peu de degrés de liberté résiduels : ses coefficients peuvent révéler des valeurs "
            "individuelles."),
    "survival-step": ("event timing",
                      "Fewer events or censorings than the threshold at this time point: the step of the curve "
                      "tells when these persons had the event or left.",
                      "Moins d'événements ou de censures que le seuil à ce temps : la marche de la courbe dit "
                      "quand ces personnes ont eu l'événement ou sont sorties."),
    "rounding": ("unrounded count",
                 "The rule set requires counts rounded to a multiple of its base.",
                 "Les règles exigent des effectifs arrondis à un multiple de leur base."),
    "secondary": ("complementary suppression",
                  "Withheld to protect another suppressed cell: with the totals, this cell would let it be "
                  "computed.",
                  "Masquée pour protéger une autre cellule masquée : avec les totaux, celle-ci permettrait de la "
                  "calculer."),
    "identifier": ("direct identifier",
                   "The column holds identifiers (pseudonyms, NIR, claim keys) or values unique to almost every "
                   "row: the table is a list of persons, not a statistic.",
                   "La colonne contient des identifiants (pseudonymes, NIR, clés de prestation) ou des valeurs "
                   "presque toutes distinctes : le tableau est une liste de personnes, pas une statistique."),
    "no-metadata": ("unknown provenance",
                    "The file was not written by a helper: its numbers are taken as counts of persons, which a "
                    "checker must confirm.",
                    "Le fichier n'a pas été écrit par un outil d'analyse : ses nombres sont pris pour des "
                    "effectifs de personnes, ce qu'un vérificateur doit confirmer."),
    "altered": ("altered output",
                "The file differs from what its helper wrote: its metadata cannot be trusted.",
                "Le fichier diffère de ce que l'outil a écrit : ses métadonnées ne sont plus fiables."),
    "not-a-count": ("unknown statistic",
                    "A number that is not a whole count, without metadata to say what it is.",
                    "Un nombre qui n'est pas un effectif entier, sans métadonnées pour dire ce qu'il est."),
    "suppression-review": ("unproven suppression",
                           "Tables of more than two dimensions: no suppression pattern is proven; a checker "
                           "must verify that the released cells do not reveal the failing ones.",
                           "Tableaux de plus de deux dimensions : aucun masquage n'est prouvé ; un vérificateur "
                           "doit s'assurer que les cellules publiées ne révèlent pas celles en échec."),
    "figure-without-table": ("figure without its table",
                             "A figure leaves only with the helper-written table it was drawn from.",
                             "Une figure ne sort qu'avec le tableau, écrit par un outil, dont elle est tirée."),
    "suppressed": ("withheld",
                   "Withheld from the release.",
                   "Retirée de la publication."),
}


def explain(reason: str, lang: str = "en") -> str:
    risk = RISKS.get(reason)
    if risk is None:
        return reason
    return risk[1] if lang == "en" else risk[2]
