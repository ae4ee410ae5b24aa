#!/bin/sh
# Container entrypoint: optionally ingest the seed articles, then exec the command (qa serve).
set -eu

case "${QA_INGEST_ON_START:-}" in
    "" | 0 | false | False | FALSE | no) ;;
    *)
        # Unquoted on purpose: QA_INGEST_PATHS may hold several paths. Re-ingesting is
        # idempotent (content hashes), so every start may do it.
        # shellcheck disable=SC2086
        qa ingest ${QA_INGEST_PATHS:-/app/seeds}
        ;;
esac

exec "$@"
