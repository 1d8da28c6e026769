export type { RunReport, TargetReport } from '../report/run-report.js';
