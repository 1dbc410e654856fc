# SPDX-License-Identifier: GPL-2.0
# TAP for the bench's own tests, sourced: check NAME CMD... runs one case
# whose verdict is CMD's status; tap_done prints the plan and fails if a
# case did.
n=0
failed=0

check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		failed=$((failed + 1))
	fi
}

tap_done() {
	echo "1..$n"
	[ $failed = 0 ]
}
