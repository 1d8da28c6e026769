/** Small helpers shared by the fault tests. */

/** Polls until `check` is true; generous deadlines because suites share a loaded 2-core machine. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The spec of a recipe that "stops a service" in pre (`<state>/stopped`), streams `bytes` of
 * random data as big.bin, and "starts it again" in an always-run post-step (`<state>/started`).
 */
export function stopStartSpec(state: string, bytes: number): string {
  return [
    'hosts: { group: app }',
    'detect: "true"',
    'backup:',
    '  pre:',
    `    - run: mkdir -p ${state} && touch ${state}/stopped`,
    '  snapshot:',
    `    - run: head -c ${bytes} /dev/urandom`,
    '      output: big.bin',
    '  post:',
    `    - run: touch ${state}/started`,
    '',
  ].join('\n');
}
