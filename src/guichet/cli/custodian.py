"""``guichet custodian ...``: the key custodian's home, service, keys, rotation, escrow and recovery.

Commands that work on the custodian's own home (init, status, serve, token, domain-key, escrow,
recover) take ``--custodian-home DIR``, or the hub's configured custodian home with ``--home``; a
producer fetches its domain key from an HTTP custodian with ``domain-key --custodian-url``. Commands
that change the hub (rotate, shred) act for an account and are audited.
"""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, F, env, example, home_option, hub_command, json_option, pass_cli
from guichet.config import load_config, resolve_home, write_private_file
from guichet.custodian import custodian_for
from guichet.custodian import escrow as escrow_mod
from guichet.custodian import services as custodian_services
from guichet.custodian.grants import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY, TOKEN_KINDS
from guichet.custodian.home import CustodianHome
from guichet.custodian.keys import DomainKey, write_domain_key_file
from guichet.custodian.local import LocalCustodian
from guichet.errors import BadInput, Conflict

MIB = 1024 * 1024


def custodian_home_option(f: F) -> F:
    return click.option("--custodian-home", "custodian_home", type=click.Path(path_type=Path), metavar="DIR",
                        help="The custodian's folder (default: the hub's configured custodian home).")(f)


def _home(cli: Cli, custodian_home: Path | None) -> CustodianHome:
    if custodian_home is not None:
        return CustodianHome(custodian_home.expanduser())
    if not (cli.home_option or env("GUICHET_HOME")):
        raise BadInput("no custodian home: pass --custodian-home DIR (or --home HUB)")
    return CustodianHome(load_config(resolve_home(cli.home_option, env("GUICHET_HOME"))).custodian_home)


@click.group(epilog=example("guichet custodian status --home hub --json\n"
                            "guichet custodian domain-key --domain snds --out snds.key --custodian-home custodian"))
def custodian() -> None:
    """The key custodian: the trusted third party that alone holds keys."""


@custodian.command("init", epilog=example("guichet custodian init --custodian-home /srv/custodian --json"))
@custodian_home_option
@home_option
@json_option
@pass_cli
def init(cli: Cli, custodian_home: Path | None) -> None:
    """Create a custodian home: a random master secret and its state (folders 0700, files 0600).
    Running it again changes nothing."""
    home = _home(cli, custodian_home)
    created = home.init()
    cli.emit({"home": str(home.path), "created": created},
             f"{'Created' if created else 'Already initialised:'} custodian home {home.path}")


@custodian.command("status", epilog=example("guichet custodian status --home hub --json"))
@custodian_home_option
@home_option
@json_option
@pass_cli
def status(cli: Cli, custodian_home: Path | None) -> None:
    """Where the custodian is, which kind (in-process is labelled development only), its generation."""
    if custodian_home is None and (cli.home_option or env("GUICHET_HOME")):
        info = custodian_for(load_config(resolve_home(cli.home_option, env("GUICHET_HOME")))).status()
    else:
        info = LocalCustodian(_home(cli, custodian_home)).status()
    cli.emit(info, lambda: "\n".join([
        f"Custodian: {info['mode']} ({info['label']})",
        f"Home: {info.get('home')}" + (f"  URL: {info['url']}" if info.get("url") else ""),
        f"Hub-pseudonym generation: {info['hub_generation']}"
        + ("  (rotation in progress)" if info.get("rotation_pending") else ""),
        f"Domains: {', '.join(info['domains']) or 'none'}",
        f"Escrow: {'current' if info.get('escrow_current') else 'missing or older than the last rotation'}",
        *_token_lines(info.get("tokens")),
    ]))


def _token_lines(tokens: dict[str, int] | None) -> list[str]:
    if tokens is None:
        return []
    lines = [f"Tokens: {', '.join(f'{k}: {v}' for k, v in tokens.items()) or 'none'}"]
    if tokens.get("without kind"):
        lines.append("Tokens without a kind are refused: issue new ones with 'guichet custodian token --kind'")
    return lines


@custodian.command("serve", epilog=example("guichet custodian serve --custodian-home /srv/custodian "
                                           "--host 127.0.0.1 --port 8443"))
@custodian_home_option
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=int, help="Port to listen on.")
@click.option("--tls-cert", type=click.Path(path_type=Path), help="TLS certificate (required off loopback).")
@click.option("--tls-key", type=click.Path(path_type=Path), help="TLS private key (required off loopback).")
@click.option("--max-batch", default=DEFAULT_MAX_BATCH, show_default=True, type=int,
              help="Most values in one pseudonymisation call.")
@click.option("--max-body-mb", default=DEFAULT_MAX_BODY // MIB, show_default=True, type=int,
              help="Largest pseudonymisation body, in MiB (other routes: 64 KiB).")
@pass_cli
def serve(cli: Cli, custodian_home: Path | None, host: str, port: int, tls_cert: Path | None,
          tls_key: Path | None, max_batch: int, max_body_mb: int) -> None:
    """Run the custodian as an HTTP service (bearer tokens with scopes; TLS required off loopback)."""
    from guichet.custodian.server import serve as run

    run(_home(cli, custodian_home).path, host, port, tls_cert, tls_key, max_batch, max_body_mb * MIB)


@custodian.command("token", epilog=example("guichet custodian token --caller hub --kind hub --out hub-custodian.token "
                                           "--custodian-home /srv/custodian\n"
                                           "guichet custodian token --caller atih --kind producer --domain snds "
                                           "--out atih.token --custodian-home /srv/custodian"))
@custodian_home_option
@home_option
@click.option("--caller", required=True, help="Who will use the token (named in the custodian's call log).")
@click.option("--kind", required=True, type=click.Choice(TOKEN_KINDS),
              help="hub: what the hub calls; producer: its domain's key and nothing else.")
@click.option("--domain", help="A producer token's domain (required with --kind producer).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new 0600 file for the token.")
@json_option
@pass_cli
def token(cli: Cli, custodian_home: Path | None, caller: str, kind: str, domain: str | None, out: Path) -> None:
    """Issue a bearer token for the HTTP service, for one caller of one kind; only its hash is kept."""
    from guichet.custodian.tokens import issue_token

    if out.exists():
        raise Conflict(f"--out {out}: exists; a token file is never overwritten")
    secret = issue_token(_home(cli, custodian_home), caller, kind=kind, domain=domain)
    write_private_file(out, secret + "\n")
    cli.emit({"caller": caller, "kind": kind, "domain": domain, "token_file": str(out)},
             f"Token for {caller} ({kind}{f', domain {domain}' if domain else ''}) written to {out} (0600)")


@custodian.command("domain-key", epilog=example("guichet custodian domain-key --domain snds --out snds.key "
                                                "--custodian-home /srv/custodian\n"
                                                "guichet custodian domain-key --domain snds --out snds.key "
                                                "--custodian-url https://custodian:8443 --token-file atih.token"))
@custodian_home_option
@home_option
@click.option("--custodian-url", metavar="URL", help="Fetch from this HTTP custodian (a producer, with its token).")
@click.option("--token-file", type=click.Path(path_type=Path), help="The producer's token (with --custodian-url).")
@click.option("--ca-file", type=click.Path(path_type=Path), help="CA bundle for the custodian's TLS certificate.")
@click.option("--domain", required=True, help="The pseudonymisation domain (e.g. snds).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new 0600 sealed key file.")
@json_option
@pass_cli
def domain_key(cli: Cli, custodian_home: Path | None, custodian_url: str | None, token_file: Path | None,
               ca_file: Path | None, domain: str, out: Path) -> None:
    """Deliver the level-1 key of a domain to a producer, as a sealed 0600 file (domain, key id, key,
    integrity tag): on the custodian's host from its home, or by the producer from an HTTP custodian with
    a producer token of that domain. Every producer of a domain gets the same key, so that their data link."""
    if out.exists():
        raise Conflict(f"--out {out}: exists; a key file is never overwritten")
    dk = _fetch_domain_key(custodian_url, token_file, ca_file, domain) if custodian_url else \
        LocalCustodian(_home(cli, custodian_home), caller="custodian-operator").domain_key(domain)
    write_domain_key_file(out, dk)
    cli.emit({"domain": dk.domain, "key_id": dk.key_id, "out": str(out)},
             f"Key {dk.key_id} of domain {dk.domain} written to {out} (0600); hand it over by a secure channel")


def _fetch_domain_key(url: str, token_file: Path | None, ca_file: Path | None, domain: str) -> DomainKey:
    from guichet.custodian.http_client import HttpCustodian

    if token_file is None:
        raise BadInput("--token-file: required with --custodian-url (a producer token of the domain)")
    return HttpCustodian(url, token_file=token_file, ca_file=ca_file).domain_key(domain)


@custodian.command("rotate", epilog=example("guichet custodian rotate --home hub --as operator --json"))
@hub_command
@pass_cli
def rotate(cli: Cli) -> None:
    """Rotate hub pseudonyms: a one-time old → new mapping is applied to every store of hub pseudonyms
    (opt-out register, lake, person index), then destroyed."""
    result = custodian_services.rotate(cli.hub, cli.actor)
    cli.emit(result, f"Rotated to generation {result['generation']}: {result['pseudonyms']} pseudonyms "
                     f"({', '.join(f'{k}: {v}' for k, v in result['applied'].items())}). Escrow again now.")


@custodian.command("shred", epilog=example("guichet custodian shred --project p-2025-001 --home hub --as operator"))
@click.option("--project", required=True, help="The project whose keys are destroyed.")
@hub_command
@pass_cli
def shred(cli: Cli, project: str) -> None:
    """Crypto-shred a project: destroy its keys, so that its extracts can never be read again."""
    result = custodian_services.shred_project(cli.hub, cli.actor, project=project)
    cli.emit(result, f"Project {project}: keys destroyed")


@custodian.command("escrow", epilog=example("guichet custodian escrow --shares 3 --threshold 2 --out shares/ "
                                            "--custodian-home /srv/custodian"))
@custodian_home_option
@home_option
@click.option("--shares", default=3, show_default=True, type=int, help="How many shares to write.")
@click.option("--threshold", default=2, show_default=True, type=int, help="How many rebuild the custodian.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new (or empty) folder.")
@json_option
@pass_cli
def escrow(cli: Cli, custodian_home: Path | None, shares: int, threshold: int, out: Path) -> None:
    """Split the master secret into Shamir shares (share-1.json...) for offline keeping, apart."""
    result = escrow_mod.write_shares(_home(cli, custodian_home), out, shares, threshold)
    cli.emit(result.to_dict(), f"{shares} shares written to {out}; any {threshold} rebuild the custodian. "
                               "Keep them apart, offline.")


@custodian.command("recover", epilog=example("guichet custodian recover --share a/share-1.json "
                                             "--share b/share-3.json --custodian-home /srv/custodian-new"))
@click.option("--share", "shares", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A share file (repeat up to the threshold).")
@click.option("--custodian-home", "custodian_home", required=True, type=click.Path(path_type=Path),
              help="A new (or empty) folder for the rebuilt custodian.")
@json_option
@pass_cli
def recover(cli: Cli, shares: tuple[Path, ...], custodian_home: Path) -> None:
    """Rebuild a custodian from escrow shares (it reads the lake again)."""
    result = escrow_mod.recover(list(shares), custodian_home)
    cli.emit(result, f"Custodian rebuilt in {result['custodian_home']} (generation {result['hub_generation']})")


COMMANDS = [custodian]
