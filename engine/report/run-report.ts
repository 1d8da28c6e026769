/**
 * What one job run did, as data: the `--report` file, the webhook body, the notifications and the
 * scheduler's log line. Defined here, below jobs/ (which fills it) and notify/ (which sends it).
 */
// The shapes are schemas/run-report.schema.json's, generated: the file, the code and the docs agree.
export type { RetentionOutcome, RunReport, TargetReport } from '../shapes/run-report.generated.js';
