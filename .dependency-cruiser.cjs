/**
 * `npm run check:deps` (run by `npm run build`): no import cycles, and no layer importing a
 * higher one. The layers, top to bottom (a layer imports only layers below it):
 *   1. engine/cli/                        flags and printing
 *   2. engine/schedule/ -> engine/jobs/ -> engine/app/   scheduler, jobs, the application layer
 *   3. engine/runner/ (backup), engine/restore/, engine/catalog/   the domain
 *   4. the mechanisms: executors, archive, targets, recipes, inventory, template, secrets,
 *      report, lock, crypto, signing, notify, config, profiles, schema, metrics
 *   5. the base: engine/*.ts (errors, paths, small helpers)
 * Type-only imports count too: a type that lives in a higher layer is still an upward import.
 */
const CLI = '^engine/cli/';
const SCHEDULE = '^engine/schedule/';
const JOBS = '^engine/jobs/';
const APP = '^engine/app/';
const DOMAIN = '^engine/(runner|restore|catalog)/';
const MECHANISMS =
  '^(engine/(executors|archive|recipes|inventory|template|secrets|report|lock|crypto|signing|notify|config|profiles|schema|metrics)/|targets/)';
const BASE = '^engine/[^/]+[.]ts$';
const ABOVE_BASE = '^(engine/[^/]+/|targets/)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: modules that cannot be understood, tested or loaded one without the other.',
      from: {},
      to: { circular: true },
    },
    { name: 'base-imports-no-layer', severity: 'error', comment: 'engine/*.ts is the base every layer uses.', from: { path: BASE }, to: { path: ABOVE_BASE } },
    {
      name: 'mechanisms-below-domain',
      severity: 'error',
      comment: 'A mechanism (executors, archive, targets, ...) knows nothing of backup, restore, the catalog, or what runs them.',
      from: { path: MECHANISMS },
      to: { path: [DOMAIN, APP, JOBS, SCHEDULE, CLI] },
    },
    {
      name: 'schema-is-a-leaf',
      severity: 'error',
      comment: 'engine/schema/ checks what the others load: it imports none of them (engine/app/startup-schemas.ts lists their schemas).',
      from: { path: '^engine/schema/' },
      to: { path: ABOVE_BASE, pathNot: '^engine/schema/' },
    },
    {
      name: 'domain-below-app',
      severity: 'error',
      comment: 'Backup, restore and the catalog are run by the app layer, never the other way.',
      from: { path: DOMAIN },
      to: { path: [APP, JOBS, SCHEDULE, CLI] },
    },
    {
      name: 'backup-without-restore',
      severity: 'error',
      comment: 'Backup (engine/runner/) knows nothing of restore or the catalog.',
      from: { path: '^engine/runner/' },
      to: { path: '^engine/(restore|catalog)/' },
    },
    {
      name: 'catalog-without-runs',
      severity: 'error',
      comment: 'The catalog reads stored backups; it runs nothing.',
      from: { path: '^engine/catalog/' },
      to: { path: '^engine/(runner|restore)/' },
    },
    {
      name: 'app-below-jobs',
      severity: 'error',
      comment: 'The app layer serves jobs, the scheduler and the CLI.',
      from: { path: APP },
      to: { path: [JOBS, SCHEDULE, CLI] },
    },
    { name: 'jobs-below-schedule', severity: 'error', from: { path: JOBS }, to: { path: SCHEDULE } },
    { name: 'schedule-below-cli', severity: 'error', from: { path: SCHEDULE }, to: { path: CLI } },
    // Enable once engine/app/ gives jobs their run set-up (jobs/run-job.ts imports cli/session.ts and cli/targets.ts today):
    {
      name: 'jobs-below-cli',
      severity: 'error',
      comment: 'jobs/ and schedule/ run through engine/app/, never the CLI.',
      from: { path: [JOBS, SCHEDULE] },
      to: { path: CLI },
    },
    {
      name: 'no-test-code',
      severity: 'error',
      comment: 'Shipped code does not import tests, benchmarks or scripts.',
      from: { path: '^(engine|targets)/' },
      to: { path: '^(test|bench|scripts)/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
