#!/usr/bin/env bash
# `npm run test:stress`: the streaming tests, several times, under two CPU burners.
# A race between a command's end and its output reaching the sink lost 32 KiB only when the
# machine was busy (docs/faults.md, "Streams"); an idle machine hides such bugs.
#
#   STRESS_RUNS=N (default 3)    repetitions
#   npm run test:stress -- ARGS  run `vitest run ARGS` instead of the default set
#
# The burners are started here and always stopped here, by PID, even on failure or Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${STRESS_RUNS:-3}

# The executor and stream tests: every path that pipes a command's output into a sink.
default_set() {
  vitest_run test/executors/stream-delivery.int.test.ts
  vitest_run test/executors/ssh.int.test.ts -t 'running commands'
}

failed=0
vitest_run() {
  echo "test:stress: run ${run}/${runs}: vitest run $*"
  npx vitest run "$@" || failed=$((failed + 1))
}

burners=()
stop_burners() {
  ((${#burners[@]})) || return 0
  kill "${burners[@]}" 2>/dev/null
  wait "${burners[@]}" 2>/dev/null
  burners=()
}
trap stop_burners EXIT
trap 'exit 130' INT TERM

for _ in 1 2; do
  yes >/dev/null &
  burners+=("$!")
done
echo "test:stress: ${runs} run(s) under two CPU burners (pids ${burners[*]})"

for ((run = 1; run <= runs; run++)); do
  if (($#)); then vitest_run "$@"; else default_set; fi
done
echo "test:stress: ${failed} failed vitest invocation(s) in ${runs} run(s)"
((failed == 0))
