# SPDX-License-Identifier: GPL-2.0-or-later
# fullstack_test.sh -- the start of every end-to-end test with a real
# phone (fullstack.sh, fullstack_wb.sh, srtp.sh): the harness and the
# full-stack helpers, the edge up (everything torn down at exit), the
# spoken test audio in $AUDIO, and the audio checks:
#   sim REF.wav REC.wav   similarity of REF's loudest second inside REC
#   ge A B                A >= B (decimals)
. "${BYOC_ROOT:?}/tests/lib/harness.sh"
. "$BYOC_ROOT/scripts/fullstack.sh"
fullstack_vars
trap 'fullstack_down >/dev/null 2>&1 || true; t_cleanup' EXIT

t_stack_up
AUDIO="$BYOC_RUN/audio"
fullstack_audio "$AUDIO"
WSIM="$BYOC_BUILD/tests/tools/wavsim"
sim() { "$WSIM" "$1" "$2" | awk '{ print $2 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
