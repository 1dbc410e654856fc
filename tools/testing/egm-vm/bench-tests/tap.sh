# SPDX-License-Identifier: GPL-2.0
# TAP for the bench's own tests, sourced: check NAME CMD... runs one case
# whose verdict is CMD's status; tap_done prints the plan and fails if a
# case did; expect_rc checks a command's exit status.
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

# expect_rc WANT RC ERRFILE: RC is 0 if WANT is 0, and nonzero otherwise;
# if not, say so, with the command's messages in ERRFILE.
expect_rc() {
	if [ "$1" = 0 ] && [ "$2" != 0 ]; then
		echo "# exit $2: $(cat "$3")"
		return 1
	fi
	if [ "$1" != 0 ] && [ "$2" = 0 ]; then
		echo "# exit 0, want a failure"
		return 1
	fi
}
