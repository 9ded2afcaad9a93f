// Deployment to Google Cloud: plan (pure), print (--dry-run), execute (gcloud + Scheduler + Rules APIs).
export { createTokenAuth } from './auth.ts';
export { prepareDeploy, type RunOptions, type RunResult, runDeploy, runDestroy } from './deploy.ts';
export {
  type CommandResult,
  type CommandRunner,
  type ExecutionReport,
  executePlan,
  type RulesApi,
  type SchedulerApi,
  type StepReport,
} from './execute.ts';
export { formatPlan } from './format.ts';
export { parseFirestoreIndexes } from './indexes.ts';
export { type Plan, planDeploy, planDestroy, type Step } from './plan.ts';
export { createRulesApi } from './rules.ts';
export { createProcessRunner } from './runner.ts';
export { createSchedulerApi, createSchedulerClient } from './scheduler.ts';
export { DEPLOY_SETTINGS, loadDeploySettings } from './settings.ts';
