"""`exchange` — the operator's command line.

    exchange migrate                         apply every service's migrations
    exchange topics ensure                   create missing Kafka topics with their retention
    exchange topics acls                     create the per-service ACLs (secure cluster, as its super user)
    exchange topics export FILE.jsonl        every catalogue topic to signed JSONL (archive, off-cluster copy)
    exchange topics import FILE.jsonl        verify the signature, then write into empty topics
    exchange catalogue check                 validate the reporting catalogue in schemas/
    exchange dept add <code> <name>          register a department and print its token (shown once)
    exchange dept list [--json]              registered departments and their active credentials
    exchange token issue --role county|auditor --name <who>
    exchange token list [--json]             credentials (never their secrets), active and revoked
    exchange token revoke <credential id>
    exchange user add <username> --name 张三 --role clerk|head|county [--department AMR] [--password-stdin]
    exchange user disable <username>
    exchange records import FILE --department AMR --type administrative_penalty [--result OUT.xlsx]
    exchange keys rotate                     new receipt signing key; old receipts keep verifying
    exchange audit verify-receipts [--department X] [--public-key PEM|JSON] [--ingest-url URL] [--json]
    exchange audit access --subject <credit code or ID number> [--json]
    exchange audit replay [--as-of YYYY-MM-DDTHH:MM:SS+08:00] [--keep] [--scratch-url URL] [--json]
    exchange dlq list [--service S] [--topic T] [--json]   dead-lettered events, their state and error
    exchange dlq redrive --service S (--event-id ID ... | --all) [--wait SECONDS]
    exchange supervision redraw [--plan PLAN-ID] [--json]   re-draw published 双随机 plans and compare
    exchange bridge reconcile --date YYYY-MM-DD       the day's province reconciliation (JSON)
    exchange bridge export --date YYYY-MM-DD [--out DIR]   write the day's dated file for the province

Configuration comes from the environment (DATABASE_URL, KAFKA_BOOTSTRAP, EXCHANGE_*), e.g. after
`source .run/stack.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import CommonSettings
from services.manifests import MANIFESTS


def _engine(settings: CommonSettings) -> AsyncEngine:
    from services.common.db import create_engine

    return create_engine(settings.database_url, pool_size=2)


class OperatorMistake(Exception):
    """A mistake in what the operator asked for: one line on stderr, exit 2, no traceback."""


async def _dept_add(settings: CommonSettings, code: str, name: str) -> str:
    from services.common.auth import Role, issue, register_department
    from services.common.catalogue import load_catalogue

    known = load_catalogue(settings.schemas_dir).departments
    if code not in known:
        raise OperatorMistake(
            f"department {code} is not in the reporting catalogue ({settings.schemas_dir / 'catalogue.yaml'}); "
            f"known: {', '.join(sorted(known))}. Add it to the catalogue first"
        )
    engine = _engine(settings)
    try:
        await register_department(engine, code, name)
        token = await issue(engine, role=Role.DEPARTMENT, name=name, department=code)
    finally:
        await engine.dispose()
    return token.token


async def _token_issue(settings: CommonSettings, role: str, name: str) -> str:
    from services.common.auth import Role, issue

    engine = _engine(settings)
    try:
        token = await issue(engine, role=Role(role), name=name)
    finally:
        await engine.dispose()
    return token.token


async def _token_revoke(settings: CommonSettings, credential_id: str) -> bool:
    from services.common.auth import revoke

    engine = _engine(settings)
    try:
        return await revoke(engine, credential_id)
    finally:
        await engine.dispose()


async def _credentials(settings: CommonSettings) -> list[dict[str, object]]:
    from sqlalchemy import text

    engine = _engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT c.id, c.role, c.department, c.name, c.created_at, c.revoked_at "
                    "FROM identity.credentials c ORDER BY c.created_at, c.id"
                )
            )
            return [
                {
                    "credential_id": r.id,
                    "role": r.role,
                    "department": r.department,
                    "name": r.name,
                    "created_at": r.created_at.isoformat(),
                    "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                }
                for r in rows
            ]
    finally:
        await engine.dispose()


async def _departments(settings: CommonSettings) -> list[dict[str, object]]:
    from sqlalchemy import text

    engine = _engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT d.code, d.name, count(c.id) FILTER (WHERE c.revoked_at IS NULL) AS active "
                    "FROM identity.departments d LEFT JOIN identity.credentials c ON c.department = d.code "
                    "GROUP BY d.code, d.name ORDER BY d.code"
                )
            )
            return [{"code": r.code, "name": r.name, "active_credentials": int(r.active)} for r in rows]
    finally:
        await engine.dispose()


def _print_json(data: object) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def _print_rows(rows: list[dict[str, object]], columns: Sequence[str], as_json: bool, empty: str) -> None:
    if as_json:
        _print_json(rows)
        return
    if not rows:
        print(empty)
        return
    for row in rows:
        print("  ".join("-" if row[c] is None else str(row[c]) for c in columns))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="exchange", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every service's database migrations")
    topics = sub.add_parser("topics", help="Kafka topics")
    topics.add_argument("action", choices=["ensure", "acls", "export", "import"])
    topics.add_argument("path", nargs="?", type=Path, help="export: the JSONL file to write; import: to read")
    topics.add_argument("--topic", action="append", dest="topic_names", help="export: a logical topic (repeatable)")
    topics.add_argument("--key-file", type=Path, help="export: signing key (default INGEST_SIGNING_KEY_FILE)")
    topics.add_argument("--public-key", type=Path, help="import: PEM or key-set JSON (default: from ingest)")
    topics.add_argument("--ingest-url", help="import: where to fetch the public keys")
    catalogue = sub.add_parser("catalogue", help="the reporting catalogue")
    catalogue.add_argument("action", choices=["check"])
    dept = sub.add_parser("dept", help="departments")
    dept_sub = dept.add_subparsers(dest="action", required=True)
    dept_add = dept_sub.add_parser("add", help="register a department and print a new token once")
    dept_add.add_argument("code")
    dept_add.add_argument("name")
    dept_list = dept_sub.add_parser("list", help="registered departments and their active credentials")
    dept_list.add_argument("--json", action="store_true")
    token = sub.add_parser("token", help="county and auditor tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    token_issue = token_sub.add_parser("issue")
    token_issue.add_argument("--role", choices=["county", "auditor", "workbench"], required=True)
    token_issue.add_argument("--name", required=True)
    token_revoke = token_sub.add_parser("revoke")
    token_revoke.add_argument("credential_id")
    token_list = token_sub.add_parser("list", help="every credential (never its secret), active and revoked")
    token_list.add_argument("--json", action="store_true")
    keys = sub.add_parser("keys", help="receipt signing keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    keys_rotate = keys_sub.add_parser(
        "rotate", help="make a new signing key current; the old public key stays published for verification"
    )
    keys_rotate.add_argument(
        "--key-file", type=Path, help="the signing key file (default INGEST_SIGNING_KEY_FILE or .run/keys)"
    )
    user = sub.add_parser("user", help="workbench staff accounts (部门工作台)")
    user_sub = user.add_subparsers(dest="action", required=True)
    user_add = user_sub.add_parser("add", help="create (or reset) a staff account; asks for the password")
    user_add.add_argument("username")
    user_add.add_argument("--name", required=True, help="the person's name as shown on pages and the trail")
    user_add.add_argument("--role", choices=["clerk", "head", "county"], required=True)
    user_add.add_argument("--department", help="the department code (not for county office users)")
    user_add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user_disable = user_sub.add_parser("disable", help="disable an account and end its sessions")
    user_disable.add_argument("username")
    records = sub.add_parser("records", help="report records from a file (systems without a browser)")
    records_sub = records.add_subparsers(dest="action", required=True)
    records_import = records_sub.add_parser("import", help="submit a filled .xlsx template or CSV")
    records_import.add_argument("file", type=Path)
    records_import.add_argument("--department", required=True)
    records_import.add_argument("--type", required=True, dest="record_type")
    records_import.add_argument("--result", type=Path, help="where to write the result sheet")
    records_import.add_argument("--ingest-url", help="default: INGEST_URL")
    records_import.add_argument("--token", help="default: TOKEN_<department> from the environment")
    audit = sub.add_parser("audit", help="auditor's tools (read-only)")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    verify = audit_sub.add_parser("verify-receipts", help="check every receipt's signature and hash chain")
    verify.add_argument("--department")
    verify.add_argument(
        "--public-key",
        type=Path,
        help="a PEM public key, or the JSON of GET /v1/receipts/public-keys (default: fetched from ingest)",
    )
    verify.add_argument("--ingest-url", help="where to fetch the public keys (default INGEST_URL, or :8001)")
    verify.add_argument("--json", action="store_true")
    access = audit_sub.add_parser("access", help="who read a subject's non-public data")
    access.add_argument("--subject", required=True)
    access.add_argument("--json", action="store_true")
    replay_cmd = audit_sub.add_parser("replay", help="rebuild every consuming service from the topics and compare")
    replay_cmd.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        metavar="YYYY-MM-DDTHH:MM:SS+08:00",
        help="the live date (default: now, Asia/Shanghai)",
    )
    replay_cmd.add_argument("--keep", action="store_true", help="keep the scratch schemas")
    replay_cmd.add_argument(
        "--scratch-url",
        help="rebuild into this PostgreSQL (the auditor's own) instead of scratch schemas in DATABASE_URL, "
        "which is then only read",
    )
    replay_cmd.add_argument("--json", action="store_true")
    replay_cmd.add_argument(
        "--service",
        action="append",
        help="rebuild and compare only this service (repeatable; default: every service the replay rebuilds)",
    )
    reports_cmd = sub.add_parser("reports", help="credit reports")
    reports_sub = reports_cmd.add_subparsers(dest="action", required=True)
    reports_verify = reports_sub.add_parser(
        "verify", help="check a report file (PDF or HTML) offline against the reports public key"
    )
    reports_verify.add_argument("file", type=Path)
    reports_verify.add_argument(
        "--public-key",
        type=Path,
        metavar="PEM",
        help="the reports public key (GET /v1/reports/public-key); default: derived from REPORTS_SIGNING_KEY_FILE",
    )
    dlq_cmd = sub.add_parser("dlq", help="dead-lettered events: list them, re-drive them after a fix")
    dlq_sub = dlq_cmd.add_subparsers(dest="action", required=True)
    dlq_list = dlq_sub.add_parser("list", help="dead-lettered events with their inbox state and error")
    dlq_list.add_argument("--service", choices=[m.name for m in MANIFESTS])
    dlq_list.add_argument("--topic", help="the topic the events were first read from (with or without prefix)")
    dlq_list.add_argument("--json", action="store_true")
    dlq_redrive = dlq_sub.add_parser(
        "redrive", help="after a fix, send dead-lettered events back to their service (each is applied once)"
    )
    dlq_redrive.add_argument("--service", choices=[m.name for m in MANIFESTS], required=True)
    which = dlq_redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("--event-id", action="append", dest="event_ids", metavar="ID", help="repeatable")
    which.add_argument("--all", action="store_true", help="every event the service has dead-lettered")
    dlq_redrive.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait for the service to apply them"
    )
    supervision_cmd = sub.add_parser("supervision", help="credit-based supervision (issue 22)")
    supervision_sub = supervision_cmd.add_subparsers(dest="action", required=True)
    redraw_cmd = supervision_sub.add_parser("redraw", help="re-draw published 双随机 plans from their events")
    redraw_cmd.add_argument("--plan", help="one plan id (default: every plan on outcomes.supervision)")
    redraw_cmd.add_argument("--json", action="store_true")
    bridge_cmd = sub.add_parser("bridge", help="the provincial platform: reconciliation and the dated file")
    bridge_sub = bridge_cmd.add_subparsers(dest="action", required=True)
    for name in ("reconcile", "export"):
        bridge_action = bridge_sub.add_parser(name)
        bridge_action.add_argument("--date", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
        if name == "export":
            bridge_action.add_argument("--out", type=Path, default=Path("."), metavar="DIR")
    args = parser.parse_args(argv)

    from pydantic import ValidationError

    from services.common.db import DatabaseUnavailable

    try:
        settings = CommonSettings()
        return _run(args, settings)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        print(f"exchange: configuration: {problems}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, OperatorMistake, OSError, ValueError) as exc:
        # OSError: a file or server that is not there; ValueError: a malformed key, URL or setting.
        print(f"exchange: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("exchange: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):  # e.g. `exchange migrate` not run yet: a missing schema or table
            print(f"exchange: database: {_one_line(exc.orig or exc)} (has `exchange migrate` run?)", file=sys.stderr)
            return 2
        from aiokafka.errors import KafkaError

        if isinstance(exc, KafkaError):
            print(f"exchange: Kafka at {settings.kafka_bootstrap}: {_one_line(exc)}", file=sys.stderr)
            return 2
        raise


def _workbench(args: argparse.Namespace, settings: CommonSettings) -> int:
    from services.workbench import commands

    if args.command == "user" and args.action == "add":
        return asyncio.run(
            commands.user_add(settings, args.username, args.name, args.role, args.department, args.password_stdin)
        )
    if args.command == "user":
        return asyncio.run(commands.user_disable(settings, args.username))
    return asyncio.run(
        commands.records_import(
            settings,
            args.file,
            department=args.department,
            type_name=args.record_type,
            result=args.result,
            ingest_url=args.ingest_url,
            token=args.token,
        )
    )


def _backup(args: argparse.Namespace, settings: CommonSettings) -> int:
    from services import backup

    if args.path is None:
        raise OperatorMistake(f"`exchange topics {args.action}` needs the JSONL file")
    if args.action == "export":
        from services.ingest.keyring import load_private
        from services.ingest.settings import IngestSettings

        key = load_private(args.key_file or IngestSettings().signing_key_file)
        with args.path.open("wb") as out:
            summary = asyncio.run(backup.export_topics(settings, out, key, topics=args.topic_names))
        counts = ", ".join(f"{t} {n}" for t, n in summary.topics.items() if n)
        print(f"exported {summary.lines} messages to {args.path}, signed with key {summary.key_id}: {counts or 'none'}")
        return 0
    from services.audit.commands import public_keys

    written = asyncio.run(backup.import_topics(settings, args.path, public_keys(args.public_key, args.ingest_url)))
    print(f"imported {sum(written.values())} messages: " + ", ".join(f"{t} {n}" for t, n in written.items() if n))
    return 0


def _supervision_redraw(args: argparse.Namespace, settings: CommonSettings) -> int:
    """Exit 0 when every plan re-draws to what was published, 1 when one does not (or none is found)."""
    import json
    from dataclasses import asdict

    from services.supervision.redraw import check_plans

    checked = asyncio.run(check_plans(settings, args.plan))
    if args.json:
        print(json.dumps([asdict(c) for c in checked], ensure_ascii=False))
    else:
        for c in checked:
            verdict = "matches" if c.matches else "DOES NOT MATCH"
            print(f"{c.plan_id} ({c.department}): {c.drawn} of {c.population_size} drawn; re-draw {verdict}")
        if not checked:
            print("no published plan" + (f" {args.plan}" if args.plan else ""))
    return 0 if checked and all(c.matches for c in checked) else 1


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _run(args: argparse.Namespace, settings: CommonSettings) -> int:
    if args.command == "supervision":
        return _supervision_redraw(args, settings)
    if args.command == "migrate":
        from services.common.migrations import upgrade_all

        upgrade_all(settings.database_url)
        print("migrations applied")
    elif args.command == "topics" and args.action == "ensure":
        from services.common.kafka import KafkaAuth, ensure_topics
        from services.topics import topic_specs

        auth = KafkaAuth.from_settings(settings)
        created = asyncio.run(ensure_topics(settings.kafka_bootstrap, topic_specs(settings), auth=auth))
        print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    elif args.command == "topics" and args.action == "acls":
        from services.common.kafka import KafkaAuth, create_acls
        from services.topics import kafka_acls

        auth = KafkaAuth.from_settings(settings)
        count = asyncio.run(create_acls(settings.kafka_bootstrap, kafka_acls(settings), auth=auth))
        print(f"{count} ACLs in place (existing ones are left as they are)")
    elif args.command == "topics" and args.action in ("export", "import"):
        return _backup(args, settings)
    elif args.command == "catalogue":
        from services.common.catalogue_check import main_check

        return int(main_check(settings.schemas_dir))
    elif args.command == "dept" and args.action == "add":
        print(asyncio.run(_dept_add(settings, args.code, args.name)))
        print(f"# the token above is shown once; store it as {args.code}'s secret", file=sys.stderr)
    elif args.command == "dept" and args.action == "list":
        rows = asyncio.run(_departments(settings))
        _print_rows(rows, ["code", "name", "active_credentials"], args.json, "no departments registered")
    elif args.command == "token" and args.action == "issue":
        print(asyncio.run(_token_issue(settings, args.role, args.name)))
    elif args.command == "token" and args.action == "list":
        rows = asyncio.run(_credentials(settings))
        columns = ["credential_id", "role", "department", "name", "created_at", "revoked_at"]
        _print_rows(rows, columns, args.json, "no credentials issued")
    elif args.command == "token" and args.action == "revoke":
        if not asyncio.run(_token_revoke(settings, args.credential_id)):
            raise OperatorMistake(f"no active credential {args.credential_id} (see `exchange token list`)")
        print(f"revoked {args.credential_id}")
    elif args.command in ("user", "records"):
        return _workbench(args, settings)
    elif args.command == "keys" and args.action == "rotate":
        from services.ingest.keyring import rotate
        from services.ingest.settings import IngestSettings

        key_file = args.key_file or IngestSettings().signing_key_file
        old, new = rotate(key_file)
        print(f"new signing key {new} is current in {key_file}; {old or 'no key'} stays published for verifying")
        print("# restart every ingest replica to sign with the new key", file=sys.stderr)
    elif args.command == "audit" and args.action == "verify-receipts":
        from services.audit.commands import print_report, public_keys, verify_receipts

        keys = public_keys(args.public_key, args.ingest_url)
        verified = asyncio.run(verify_receipts(settings, department=args.department, key=keys))
        return print_report(verified, as_json=args.json)
    elif args.command == "audit" and args.action == "access":
        from services.audit.commands import access_log, print_access

        entries = asyncio.run(access_log(settings, subject=args.subject))
        if args.json:
            _print_json(entries)
            return 0
        return print_access(entries, args.subject)
    elif args.command == "audit" and args.action == "replay":
        from services.audit.replay import print_replay, replay

        outcome = asyncio.run(
            replay(settings, as_of=args.as_of, keep=args.keep, scratch_database=args.scratch_url, services=args.service)
        )
        return print_replay(outcome, as_json=args.json)
    elif args.command == "reports" and args.action == "verify":
        from services.reports.verify_cli import verify_file

        return verify_file(args.file, args.public_key)
    elif args.command == "bridge":
        import orjson

        from services.bridge.commands import export, reconcile

        if args.action == "reconcile":
            reconciled = asyncio.run(reconcile(settings, args.date))
            print(orjson.dumps(reconciled, option=orjson.OPT_INDENT_2).decode())
            return 0 if reconciled["difference"] == 0 and not reconciled["late_withdrawals"] else 1
        path, count = asyncio.run(export(settings, args.date, args.out))
        print(f"{count} records written to {path}")
    elif args.command == "dlq":
        from services.common.kafka import KafkaAuth
        from services.dlq import list_dead_letters, print_list, print_redrive, redrive

        auth = KafkaAuth.from_settings(settings)
        if args.action == "list":
            return print_list(
                asyncio.run(list_dead_letters(settings, service=args.service, topic=args.topic, auth=auth)),
                as_json=args.json,
            )
        report = asyncio.run(
            redrive(
                settings,
                service=args.service,
                event_ids=None if args.all else args.event_ids,
                auth=auth,
                wait_seconds=args.wait,
            )
        )
        return print_redrive(report, waited=args.wait > 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
