"""The permission table: actions x roles, with separation-of-duty rules.

``docs/permissions.md`` is the same table for people; ``tests/unit/test_permissions_doc.py`` fails when
the two disagree. ``authorize`` returns a decision *with its reason*, so that a refusal can be explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from guichet.actor import Actor

ROLES: tuple[str, ...] = (
    "operator",
    "producer",
    "researcher",
    "committee",
    "authority",
    "checker",
    "auditor",
)
# Pseudo-roles: "system" is the hub itself (init, start-up recovery); "self" means the actor is the
# account the action is about; "public" means anyone, without an account.
PSEUDO_ROLES: tuple[str, ...] = ("system", "self", "public")

# change: changes state; read: reads non-personal data; read_personal: reads data about people (audited);
# decision: a governance decision (needs a second factor in production).
Kind = Literal["change", "read", "read_personal", "decision"]
# not_owner: the actor may not act on what they own (their own application, their own output...);
# not_prior: the actor may not be one who already decided on the resource (two distinct reviewers);
# not_same_org: the actor may not belong to the resource's organisation (no operator, reviewer or
# authority acts on an application from their own organisation).
SodRule = Literal["not_owner", "not_prior", "not_same_org"]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    roles: frozenset[str]
    kind: Kind
    summary: str
    sod: tuple[SodRule, ...] = ()


@dataclass(frozen=True)
class Resource:
    """What an action is about, as far as permissions care."""

    kind: str
    id: str | None = None
    owner: str | None = None  # username of the account that owns / asked for it
    prior_actors: frozenset[str] = field(default_factory=frozenset)
    org: str | None = None  # the organisation it comes from (an application: its applicant's)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _a(name: str, roles: str, kind: Kind, summary: str, sod: tuple[SodRule, ...] = ()) -> ActionSpec:
    return ActionSpec(name, frozenset(roles.split()), kind, summary, sod)


_TABLE: tuple[ActionSpec, ...] = (
    # --- hub ---------------------------------------------------------------------------------------
    _a("hub.init", "system", "change", "create a hub: folders, database, first operator"),
    _a("hub.doctor", "system operator", "change", "repair what a crash left: mirror tail, pending work"),
    _a("hub.configure", "operator", "change", "change hub-wide properties (publisher, contact point...)"),
    # --- accounts ----------------------------------------------------------------------------------
    _a("user.add", "system operator", "change", "create an account with its roles and organisation"),
    _a("user.list", "operator auditor", "read_personal", "list accounts, their roles and organisations"),
    _a("user.show", "operator auditor self", "read_personal", "show one account"),
    _a("user.disable", "operator", "change", "disable an account and revoke its tokens", ("not_owner",)),
    _a("user.enable", "operator", "change", "re-enable a disabled account"),
    _a("user.unlock", "operator", "change", "unlock an account locked after failed logins"),
    _a("user.password", "system operator self", "change", "set an account's password"),
    _a("user.totp", "system operator self", "change", "enrol an account's second factor (TOTP)"),
    _a("user.token", "system operator self", "change", "issue an API token for an account"),
    _a("user.token_revoke", "operator self", "change", "revoke an API token"),
    # --- audit -------------------------------------------------------------------------------------
    _a("audit.verify", "operator auditor", "read", "verify the audit chain in the database and files"),
    _a("audit.read", "operator auditor", "read", "read audit events"),
    _a("audit.checkpoint", "operator system", "change",
       "have the custodian sign the audit chain's head (event count, head hash, time) and publish the checkpoint"),
    _a("audit.export", "operator auditor", "read_personal",
       "export a period's audit events with the signed checkpoints as a bundle that verifies without the hub"),
    # --- custodian (keys, pseudonyms, opt-outs) ------------------------------------------------------
    _a("custodian.rotate", "operator", "change", "rotate hub pseudonyms: apply the one-time old-to-new mapping everywhere"),
    _a("custodian.shred", "operator system", "change", "destroy a project's keys so that its extracts become unreadable"),
    _a("optout.add", "public", "change", "record an objection (EHDS Art 71): the person's hub pseudonyms"),
    _a("optout.withdraw", "public", "change", "withdraw an objection with its receipt"),
    _a("optout.count", "auditor operator", "read", "count active and withdrawn objections"),
    _a("optout.record", "operator", "change",
       "record an objection or findings preference received by post, at a counter or by phone, on a citizen's behalf"),
    _a("findings.decline", "public", "change",
       "record the preference not to be informed of significant findings (EHDS Arts 58, 61), held like an objection"),
    _a("findings.withdraw", "public", "change", "withdraw the findings preference with its receipt"),
    # --- transparency (complaints, activity report) -------------------------------------------------
    _a("complaint.submit", "public", "change", "lodge a complaint (EHDS Art 81): answers a reference number"),
    _a("complaint.list", "operator auditor", "read_personal", "list complaints with their status and contact"),
    _a("complaint.update", "operator", "change", "move a complaint along (in progress, answered, closed) with an answer"),
    _a("results.overdue", "public", "read", "list projects whose results are overdue (past the deadline, no published release)"),
    _a("results.published", "public", "read", "list each permit's published releases of results and recalls"),
    _a("airlock.public_download", "public", "read", "download a published release's file without an account"),
    _a("report.activity", "public", "read",
       "read the activity report of a year (EHDS Art 59): applications, decisions, fees, opt-outs, products, results"),
    # --- permits, accreditation, fees, scheduler (issue 17) -------------------------------------------
    _a("user.attest", "operator", "change",
       "record a person's training attestation (accreditation) valid until a date"),
    _a("user.attestations", "operator auditor self", "read_personal",
       "read a person's training attestations and whether one is valid"),
    _a("jobs.run", "operator system", "change",
       "run the scheduler's jobs for a day: lapse, flag overdue, expire permits, close access, deliver "
       "notifications (idempotent)"),
    _a("jobs.overdue", "operator auditor", "read",
       "list what is overdue: application steps past their due date, permits whose results are late"),
    _a("jobs.list", "operator auditor", "read",
       "list the scheduler's jobs and its last runs"),
    _a("permit.estimate", "operator self", "change",
       "estimate an application's fees from the schedule (products, duration, compute, organisation kind)"),
    _a("permit.accept_estimate", "self", "change",
       "accept the fee estimate of one's own application (a permit needs it)"),
    _a("permit.withdraw_estimate", "self", "change",
       "decline the fee estimate of one's own application"),
    _a("permit.issue", "operator", "change",
       "issue the signed permit of an authorised application whose estimate was accepted", ("not_owner", "not_same_org")),
    _a("permit.show", "operator auditor authority committee researcher self", "read",
       "read a permit, its state, revisions and people (a researcher: only one they hold or are named on)"),
    _a("permit.list", "operator auditor authority committee researcher", "read",
       "list permits with their state (a researcher: only those they hold or are named on)"),
    _a("permit.export", "operator auditor researcher self", "read",
       "write a permit's signed JSON document (a researcher: one they hold or are named on; anyone verifies it)"),
    _a("permit.amend", "operator", "change",
       "amend a permit: remove a person at once; add a person or a variable", ("not_owner", "not_same_org")),
    _a("permit.approve", "authority", "decision",
       "approve or refuse a requested amendment that widens a permit's scope (a person or a variable added)",
       ("not_owner", "not_same_org")),
    _a("permit.extend", "operator", "change",
       "extend a permit once, by at most its first length, asked at least a month before it ends", ("not_owner", "not_same_org")),
    _a("permit.revoke", "operator authority", "decision",
       "revoke a permit with a reason, optionally excluding its organisation for up to 5 years (Art 63)",
       ("not_owner", "not_same_org")),
    _a("permit.suspend", "operator authority", "decision",
       "suspend a permit with a reason (an output incident, a breach): access to its data closes until reinstated",
       ("not_owner", "not_same_org")),
    _a("permit.reinstate", "operator authority", "decision",
       "reinstate a suspended permit with a reason: access to its data opens again", ("not_owner", "not_same_org")),
    _a("permit.appeal", "self", "change",
       "lodge an appeal against a permit's end (revoked or expired): its keys are not shredded while it is pending"),
    _a("permit.decide_appeal", "authority", "decision",
       "record the outcome of a pending appeal against a permit's end (upheld: the keys are kept)",
       ("not_owner", "not_same_org")),
    _a("workspace.build", "operator", "change",
       "build a permit's extract: only what it permits, opt-outs applied, keys replaced per project, identifying "
       "fields coarsened, its risk measured (idempotent)"),
    _a("airlock.check", "operator checker", "read_personal",
       "see the automatic disclosure check of an output in a permit's workspace (per-cell verdicts and reasons)"),
    _a("airlock.submit", "researcher", "change",
       "submit files of a permit's workspace outputs for release, in groups with their context and controls "
       "(a person with open access on the permit)"),
    _a("airlock.review", "checker", "change",
       "review an output request's files blind (approve, ask for changes, reject; an override of a failed "
       "check with a written justification)", ("not_owner", "not_prior", "not_same_org")),
    _a("airlock.release", "operator", "change",
       "release an output request approved by two checkers: files copied out, sanitised, with checksums; cells "
       "recorded in the differencing ledger", ("not_owner",)),
    _a("airlock.recall", "operator", "change",
       "recall a released output request after an incident, with a reason; list whom to notify", ("not_owner",)),
    _a("airlock.recheck", "checker", "change",
       "re-check an approved output request drawn for the sample: confirmed, or a concern with its reason (the "
       "operator is told); never one of its reviewers", ("not_owner", "not_prior", "not_same_org")),
    _a("airlock.show", "operator checker researcher", "read",
       "read an output request: state, turn, files, verdicts (a researcher: their project's; a checker: no "
       "other vote before their own)"),
    _a("airlock.requests", "operator checker researcher", "read",
       "list the output requests one may act on (a checker: those waiting, proposed ones first)"),
    _a("airlock.publish", "researcher", "change",
       "make a released output request of one's project public in the registry"),
    _a("airlock.registry", "public", "read",
       "read the public list of releases: title, date, files with type and checksum, number of checkers, recalls"),
    _a("airlock.download", "operator checker researcher auditor", "read_personal",
       "download a released file (the project's people, checkers, operators; anyone with an account once public)"),
    _a("airlock.metrics", "operator auditor", "read",
       "read the airlock's metrics: turnaround, decisions and reasons, files per request, overrides, re-checks"),
    _a("stats.request", "researcher", "change",
       "submit a statistics request (EHDS Art 69): anonymised statistics only, its specification validated"),
    _a("stats.assess", "operator committee", "change",
       "accept or refuse a statistics request with a reason (the operator first; the committee where configured)",
       ("not_owner", "not_same_org")),
    _a("stats.answer", "operator", "change",
       "compute a statistics request's answer on a minimal extract in a sandboxed session; airlock checks and "
       "differencing ledger applied", ("not_owner",)),
    _a("stats.review", "checker", "change",
       "review a statistics answer (one checker): approve its release or refuse it, with a reason",
       ("not_owner", "not_same_org")),
    _a("stats.show", "operator checker committee auditor researcher", "read",
       "read a statistics request, its clocks and answer (a researcher: only their own)"),
    _a("stats.list", "operator checker committee auditor researcher", "read",
       "list statistics requests with their clocks (a researcher: only their own)"),
    _a("stats.download", "operator checker auditor researcher", "read_personal",
       "download a released statistics answer's table (its requester, the hub's roles)"),
    _a("stats.registry", "public", "read",
       "read the public list of released statistics answers: title, purpose, date, tables with checksums"),
    _a("workspace.release", "operator", "change",
       "release a held extract with a recorded reason (its risk judged acceptable)", ("not_owner", "not_same_org")),
    _a("workspace.dummy", "operator researcher", "change",
       "write a permit's dummy extract: its schema with synthetic values, no real row (a person named on it)"),
    _a("workspace.rerun", "operator researcher", "read_personal",
       "re-run an extract's recorded recipe against its recorded snapshot and report whether it reproduces it"),
    _a("workspace.prune", "operator", "change",
       "remove extract versions no longer needed (not the latest, no recorded output made from them)"),
    _a("workspace.bring", "researcher", "change",
       "add a dataset brought by the applicant to the workspace (a person named on the permit; validated, encrypted)"),
    _a("workspace.sql", "researcher", "change",
       "run one query on a permit's extract in a sandboxed session (named on the permit, while it is in force; "
       "logged)"),
    _a("workspace.python", "researcher", "change",
       "run one Python script on a permit's extract in a sandboxed session, its files kept in the workspace "
       "(named on the permit, while it is in force; logged)"),
    _a("workspace.notebook", "researcher", "change",
       "execute a notebook headless on a permit's extract in a sandboxed session, the executed notebook kept in "
       "the workspace (named on the permit, while it is in force; logged)"),
    _a("workspace.lab", "researcher", "change",
       "run JupyterLab in a sandboxed session of a permit's workspace, on a Unix socket only (named on the "
       "permit, while it is in force; start and stop audited and logged)"),
    _a("workspace.history", "operator auditor researcher", "read",
       "read a permit's session runs: who, when, code hash, rows, exit, CPU seconds (a researcher: only a "
       "permit they are named on)"),
    _a("workspace.show", "operator auditor researcher", "read",
       "read a permit's workspace page: the permit's state and people, the extract's dictionary, its files and "
       "session history (a researcher: only a permit they are named on)"),
    _a("registry.read", "public", "read",
       "read the public registry of applications, decisions and permits (page, JSON, Atom)"),
    # --- synthetic data ------------------------------------------------------------------------------
    # --- deposit and producers -----------------------------------------------------------------------
    _a("producer.add", "operator system", "change", "register a data producer, its organisation and public key"),
    _a("deposit.run", "operator producer system", "change",
       "deposit a file or a delivery: validate, quarantine, pseudonymise, write encrypted, version"),
    _a("deposit.rejections", "operator producer", "read_personal",
       "read a deposit's rejection report (identifier cells sealed to the producer)"),
    # --- lake ----------------------------------------------------------------------------------------
    _a("lake.datasets", "operator producer auditor", "read",
       "list datasets with their versions: status, rows in / accepted / quarantined, quality label, lineage "
       "(a producer: only its own)"),
    _a("lake.dataset", "operator producer auditor", "read",
       "read one dataset's versions: accounting, quality label, status history, lineage (a producer: only its own)"),
    _a("lake.assign", "operator", "change",
       "give a dataset to a producer: only its organisation (or an operator, in its name) deposits it then"),
    _a("lake.snapshot", "operator system", "change",
       "record the current published versions and person-index version under a snapshot id"),
    _a("lake.show", "operator auditor system", "read", "show a recorded snapshot of the lake"),
    # --- quality -------------------------------------------------------------------------------------
    _a("quality.run", "operator producer system", "change",
       "run a dataset version's quality checks and store the results and label"),
    _a("quality.results", "operator producer researcher committee authority checker auditor", "read",
       "read a version's quality results (failing row numbers: producers and operators only)"),
    _a("quality.override", "operator", "decision", "publish a held version despite blocking failures, with a recorded reason"),
    _a("quality.evaluate", "operator", "read", "score deposit and quality checks against a synthetic delivery's truth"),
    # --- linkage -------------------------------------------------------------------------------------
    _a("linkage.run", "operator system", "change",
       "link claims, hospital stays and death certificates; write a new encrypted person-index version"),
    _a("linkage.show", "operator auditor", "read", "read the latest linkage run's aggregate figures"),
    _a("linkage.report", "operator auditor", "read", "write the aggregate linkage report (HTML)"),
    _a("linkage.evaluate", "operator", "read", "score the latest linkage against a synthetic delivery's truth"),
    _a("linkage.export", "operator", "read_personal", "export every delivered row's person id (persons.csv)"),
    _a("linkage.review_counts", "operator auditor", "read",
       "count the pairs waiting in the clerical-review queue, by why they are queued (no pair shown)"),
    _a("linkage.review_list", "operator", "read_personal", "list the clerical-review queue of uncertain death pairs"),
    _a("linkage.review_view", "operator", "read_personal",
       "view one uncertain pair's quasi-identifiers and evidence for a clerical decision"),
    _a("linkage.review_decide", "operator", "change", "record a clerical decision (match or non-match) on a pair"),
    # --- catalogue -----------------------------------------------------------------------------------
    _a("catalogue.versions", "operator producer researcher committee authority checker auditor system", "read",
       "list a dataset's versions (published ones, or all)"),
    _a("catalogue.list", "public", "read", "list the catalogue's products, by theme or producer; the producers' directory"),
    _a("catalogue.show", "public", "read", "read a product: description, dictionary, join keys, versions, quality label"),
    _a("catalogue.search", "public", "read", "search products, tables and variables (accent-insensitive)"),
    _a("catalogue.export", "public", "read", "export the catalogue as HealthDCAT-AP (Turtle or JSON-LD)"),
    _a("catalogue.load", "operator system", "change", "load a folder of Table Schemas into the catalogue (idempotent)"),
    _a("catalogue.describe", "operator producer", "change",
       "fill or change a product's description (a producer: only its own products)"),
    _a("catalogue.configure", "operator", "change",
       "set the catalogue's hub-wide properties (publisher, contact point, access rights, legal basis)"),
    _a("catalogue.publish", "operator system", "change",
       "validate the whole catalogue with SHACL and store the graph that /api/catalogue.ttl serves"),
    _a("catalogue.review", "operator producer", "change",
       "confirm the yearly review of a product's description (a producer: only its own products)"),
    _a("catalogue.reminders", "operator producer", "read", "list products whose yearly description review is due"),
    _a("catalogue.retract", "operator producer", "change",
       "retract or supersede a published version, with a reason (a producer: only its own datasets)"),
    _a("catalogue.characterise", "operator system", "change",
       "measure published versions (people, records, period, territory, ages) for the disclosure-safe characterisation"),
    _a("delivery.open", "producer", "change", "open a resumable upload of a delivery file (size and SHA-256 declared)"),
    _a("delivery.upload", "producer", "change", "send one chunk of an open upload (resumable: any order, idempotent)"),
    _a("delivery.submit", "producer", "change", "deposit a completed upload and get its delivery receipt"),
    _a("delivery.list", "operator producer", "read", "list deliveries (a producer: only its own)"),
    _a("delivery.deposits", "operator producer", "read",
       "list deposits made by command line, grouped by delivery (a producer: only its own)"),
    _a("delivery.show", "operator producer", "read",
       "read a delivery's receipt and deposit result (a producer: only its own)"),
    _a("delivery.report", "producer", "read_personal",
       "download a delivery's rejection report, identifier cells sealed to the producer's key"),
    # --- access applications (EHDS Arts 67-68) ------------------------------------------------------
    _a("application.create", "researcher", "change", "create a draft access application (its first revision) from a JSON file"),
    _a("application.submit", "researcher", "change", "submit one's own draft application: the completeness clock starts"),
    _a("application.withdraw", "researcher", "change", "withdraw one's own application at any step before the decision"),
    _a("application.answer", "researcher", "change",
       "answer the questions on one's own incomplete application or a request to revise it: a new revision"),
    _a("application.check", "operator", "decision",
       "check an application's completeness: complete (to the panels) or incomplete (questions, clock stopped)",
       ("not_owner", "not_same_org")),
    _a("application.opinion", "committee", "decision",
       "record a panel's opinion (favourable, unfavourable, revise) with rapporteur, members present, vote and "
       "conflict declarations; the citizens' panel's is non-binding", ("not_owner", "not_same_org")),
    _a("application.decide", "authority", "decision",
       "authorise or refuse an application after a scientific opinion, with a reason",
       ("not_owner", "not_prior", "not_same_org")),
    _a("application.extend", "authority", "decision", "extend the decision's due date once, with a reason",
       ("not_owner", "not_same_org")),
    _a("application.note", "operator committee authority", "change",
       "leave a note on a section of an application, private to the reviewers or addressed to the applicant",
       ("not_owner", "not_same_org")),
    _a("application.lapse", "operator system", "change",
       "lapse the applications whose applicant did not answer within the time allowed"),
    _a("application.show", "researcher operator committee authority auditor", "read",
       "read an application: contents, state, due date, history, opinions, notes (an applicant: only their own)"),
    _a("application.list", "researcher operator committee authority auditor", "read",
       "list applications with their states and due dates (an applicant: only their own)"),
    _a("application.diff", "researcher operator committee authority auditor", "read",
       "the differences between two revisions of an application, section by section"),
    _a("panel.add", "operator", "change", "record an account as a member of a panel (scientific or citizens)"),
    _a("panel.remove", "operator", "change", "remove an account from a panel"),
    _a("panel.list", "operator committee authority auditor", "read", "list the panels and their members"),
    _a("application.feasibility", "researcher operator", "read_personal",
       "count the persons a criteria selects: noisy, rounded up to 10, 'fewer than 11' below 11; a daily budget"),
    _a("application.validate", "researcher", "read",
       "check an application's contents without saving them (the form's problems shown next to their sections)"),
    # --- web -----------------------------------------------------------------------------------------
    _a("web.home", "operator producer researcher committee authority checker auditor", "read",
       "see one's home page in the web portal"),
    _a("web.login", "public", "change", "sign in to the web portal, password step (counts failures, locks)"),
    _a("web.login_totp", "public", "change", "sign in, second-factor step: opens a session (refuses replays)"),
    _a("web.logout", "self", "change", "sign out: close one's own web session"),
    _a("web.locale", "self", "change", "choose one's own interface language"),
    _a("web.lockouts", "operator auditor", "read", "see which accounts are locked after failed logins"),
    _a("web.password", "self", "change", "change one's own password (the current one required; other sessions end)"),
    _a("web.totp", "self", "change",
       "replace one's own second factor (current password, a code of the old and one of the new authenticator)"),
    _a("web.sessions", "self", "read", "list one's own open web sessions"),
    _a("web.logout_all", "self", "change", "sign out one's other web sessions, or all of them"),
)

ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in _TABLE}
if len(ACTIONS) != len(_TABLE):  # pragma: no cover - caught at import by every test
    raise RuntimeError("duplicate action in the permission table")


def authorize(actor: Actor, action: str, resource: Resource | None = None) -> Decision:
    """May ``actor`` perform ``action`` on ``resource``? Always answers with the reason."""
    spec = ACTIONS.get(action)
    if spec is None:
        return Decision(False, f"unknown action {action!r} (not in docs/permissions.md)")
    if "public" in spec.roles:
        return Decision(True, "public action")
    held = actor.roles & spec.roles
    is_self = "self" in spec.roles and resource is not None and resource.owner == actor.username
    if not held and not is_self:
        wanted = ", ".join(sorted(spec.roles - {"self"})) or "none"
        extra = " or the account itself" if "self" in spec.roles else ""
        return Decision(False, f"{action} needs the role {wanted}{extra}; {actor.username} has none of them")
    if resource is not None:
        if "not_owner" in spec.sod and resource.owner == actor.username:
            return Decision(False, f"{action}: separation of duties, {actor.username} may not act on their own {resource.kind}")
        if "not_prior" in spec.sod and actor.username in resource.prior_actors:
            return Decision(False, f"{action}: separation of duties, {actor.username} already decided on this {resource.kind}")
        if "not_same_org" in spec.sod and resource.org is not None and actor.org == resource.org:
            return Decision(False, f"{action}: separation of duties, {actor.username} may not act on a "
                                   f"{resource.kind} from their own organisation")
    if spec.kind == "decision" and not actor.strong_auth:
        return Decision(False, f"{action} is a decision and needs a current second-factor (TOTP) code")
    via = ", ".join(sorted(held)) if held else "self"
    return Decision(True, f"{action} allowed to {actor.username} as {via}")
