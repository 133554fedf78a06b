# SPDX-License-Identifier: GPL-2.0-or-later
# Prints the first Call-ID of "rtpengine-ctl list sessions all".
/callid:/ { s = $0; sub(/^callid: */, "", s); sub(/ .*/, "", s); print s; exit }
