#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh -- ./byoc bench: performance measured, not guessed. Every
# benchmark compares against a baseline measured in the same run on the
# same machine and reports ratios and CPU cost. Results: build/bench/*.md
# (copied into docs/benchmarks.md by hand with the date and machine).
#
#   ./byoc bench [signalling|edge|worker|all]   (default all)
#
# Loops are bounded: every load has a fixed call count and rate.
set -euo pipefail
BYOC_ROOT="${BYOC_ROOT:?}"
BYOC_BUILD="${BYOC_BUILD:?}"
. "$BYOC_ROOT/scripts/common.sh"
. "$BYOC_ROOT/bench/lib.sh"

what="${1:-all}"
mkdir -p "$BENCH_OUT"
case "$what" in
	signalling) . "$BYOC_ROOT/bench/signalling.sh" ;;
	edge) . "$BYOC_ROOT/bench/edge.sh" ;;
	worker) . "$BYOC_ROOT/bench/worker.sh" ;;
	all)
		for b in signalling edge worker; do
			[ -f "$BYOC_ROOT/bench/$b.sh" ] && . "$BYOC_ROOT/bench/$b.sh"
		done
		;;
	*)
		echo "usage: ./byoc bench [signalling|edge|worker|all]" >&2
		exit 2
		;;
esac
