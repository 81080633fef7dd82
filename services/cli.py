"""`exchange` — the operator's command line.

    exchange migrate                         apply every service's migrations
    exchange topics ensure                   create missing Kafka topics with their retention
    exchange topics acls                     create the per-service ACLs (secure cluster, as its super user)
    exchange catalogue check                 validate the reporting catalogue in schemas/
    exchange dept add <code> <name>          register a department and print its token (shown once)
    exchange token issue --role county|auditor --name <who>
    exchange token revoke <credential id>
    exchange audit verify-receipts [--department X] [--public-key PEM]
    exchange audit access --subject <credit code or ID number>
    exchange audit replay [--as-of YYYY-MM-DDTHH:MM:SS+08:00] [--keep]
    exchange dlq list [--service S] [--topic T]       dead-lettered events, their state and error
    exchange dlq redrive --service S (--event-id ID ... | --all) [--wait SECONDS]
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


def _engine(settings: CommonSettings) -> AsyncEngine:
    from services.common.db import create_engine

    return create_engine(settings.database_url, pool_size=2)


async def _dept_add(settings: CommonSettings, code: str, name: str) -> str:
    from services.common.auth import Role, issue, register_department

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="exchange", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every service's database migrations")
    topics = sub.add_parser("topics", help="Kafka topics")
    topics.add_argument("action", choices=["ensure", "acls"])
    catalogue = sub.add_parser("catalogue", help="the reporting catalogue")
    catalogue.add_argument("action", choices=["check"])
    dept = sub.add_parser("dept", help="departments")
    dept_sub = dept.add_subparsers(dest="action", required=True)
    dept_add = dept_sub.add_parser("add", help="register a department and print a new token once")
    dept_add.add_argument("code")
    dept_add.add_argument("name")
    token = sub.add_parser("token", help="county and auditor tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    token_issue = token_sub.add_parser("issue")
    token_issue.add_argument("--role", choices=["county", "auditor"], required=True)
    token_issue.add_argument("--name", required=True)
    token_revoke = token_sub.add_parser("revoke")
    token_revoke.add_argument("credential_id")
    audit = sub.add_parser("audit", help="auditor's tools (read-only)")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    verify = audit_sub.add_parser("verify-receipts", help="check every receipt's signature and hash chain")
    verify.add_argument("--department")
    verify.add_argument("--public-key", type=Path, help="PEM from GET /v1/receipts/public-key")
    access = audit_sub.add_parser("access", help="who read a subject's non-public data")
    access.add_argument("--subject", required=True)
    replay_cmd = audit_sub.add_parser("replay", help="rebuild grading and sanctions from the topics and compare")
    replay_cmd.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        metavar="YYYY-MM-DDTHH:MM:SS+08:00",
        help="the live date (default: now, Asia/Shanghai)",
    )
    replay_cmd.add_argument("--keep", action="store_true", help="keep the scratch schemas")
    dlq_cmd = sub.add_parser("dlq", help="dead-lettered events: list them, re-drive them after a fix")
    dlq_sub = dlq_cmd.add_subparsers(dest="action", required=True)
    dlq_list = dlq_sub.add_parser("list", help="dead-lettered events with their inbox state and error")
    dlq_list.add_argument("--service", choices=["grading", "sanctions", "publish", "bridge"])
    dlq_list.add_argument("--topic", help="the topic the events were first read from (with or without prefix)")
    dlq_redrive = dlq_sub.add_parser(
        "redrive", help="after a fix, send dead-lettered events back to their service (each is applied once)"
    )
    dlq_redrive.add_argument("--service", choices=["grading", "sanctions", "publish", "bridge"], required=True)
    which = dlq_redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("--event-id", action="append", dest="event_ids", metavar="ID", help="repeatable")
    which.add_argument("--all", action="store_true", help="every event the service has dead-lettered")
    dlq_redrive.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait for the service to apply them"
    )
    bridge_cmd = sub.add_parser("bridge", help="the provincial platform: reconciliation and the dated file")
    bridge_sub = bridge_cmd.add_subparsers(dest="action", required=True)
    for name in ("reconcile", "export"):
        bridge_action = bridge_sub.add_parser(name)
        bridge_action.add_argument("--date", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
        if name == "export":
            bridge_action.add_argument("--out", type=Path, default=Path("."), metavar="DIR")
    args = parser.parse_args(argv)
    settings = CommonSettings()

    from services.common.db import DatabaseUnavailable

    try:
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
        elif args.command == "catalogue":
            from services.common.catalogue_check import main_check

            return int(main_check(settings.schemas_dir))
        elif args.command == "dept":
            print(asyncio.run(_dept_add(settings, args.code, args.name)))
            print(f"# the token above is shown once; store it as {args.code}'s secret", file=sys.stderr)
        elif args.command == "token" and args.action == "issue":
            print(asyncio.run(_token_issue(settings, args.role, args.name)))
        elif args.command == "token" and args.action == "revoke":
            if not asyncio.run(_token_revoke(settings, args.credential_id)):
                print(f"no active credential {args.credential_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.credential_id}")
        elif args.command == "audit" and args.action == "verify-receipts":
            from services.audit.commands import print_report, public_key, verify_receipts

            key = public_key(args.public_key)
            return print_report(asyncio.run(verify_receipts(settings, department=args.department, key=key)))
        elif args.command == "audit" and args.action == "access":
            from services.audit.commands import access_log, print_access

            return print_access(asyncio.run(access_log(settings, subject=args.subject)), args.subject)
        elif args.command == "audit" and args.action == "replay":
            from services.audit.replay import print_replay, replay

            return print_replay(asyncio.run(replay(settings, as_of=args.as_of, keep=args.keep)))
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
                    asyncio.run(list_dead_letters(settings, service=args.service, topic=args.topic, auth=auth))
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
    except DatabaseUnavailable as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
