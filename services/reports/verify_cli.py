"""`exchange reports verify FILE`: the offline check of a report file with the public key alone."""

from __future__ import annotations

import sys
from pathlib import Path

from services.reports.document import check_file, key_id_of, load_private_key, load_public_key


def verify_file(path: Path, public_key: Path | None) -> int:
    """0 when the file is a report signed by the key and unchanged since; 1 otherwise (reason on stderr);
    2 when the file or key cannot be read."""
    try:
        data = path.read_bytes()
        if public_key is not None:
            key = load_public_key(public_key.read_bytes())
        else:
            from services.reports.settings import ReportsSettings

            key = load_private_key(ReportsSettings().signing_key_file).public_key()
    except (OSError, ValueError) as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    result = check_file(data, {key_id_of(key): key})
    if not result.ok:
        print(f"NOT VALID {path}: {result.problem}", file=sys.stderr)
        return 1
    print(f"valid: report {result.number}, signed with {result.key_id}, file sha256 {result.file_sha256}")
    print("whether it is still in force or was superseded: GET /v1/reports/<number>/verification")
    return 0
