// The deploy and destroy steps of the monitoring (infra/gcp/monitoring.ts): log-based metrics by name,
// and the alert policies, the e-mail channel and the dashboard — whose ids the server assigns — found
// again by a label the deploy set (a `select` check on the list) and updated in place.
import { StreamjoinError } from '../../shared/errors.ts';
import type { Expectation } from './expect.ts';
import {
  ALERT_LABEL,
  type AlertSettings,
  alertPolicy,
  alertSpecs,
  CHANNEL_LABEL,
  DASHBOARD_FILE,
  DASHBOARD_LABEL,
  dashboard,
  logMetricConfig,
  METRICS,
  metricConfigFile,
  SPEC_KEY,
} from './monitoring.ts';
import type { GcloudStep } from './plan.ts';

const ref = (name: string): string => `$\{${name}}`;
const gcloud = (step: Omit<GcloudStep, 'kind'>): GcloudStep => ({ kind: 'gcloud', ...step });

export const ALERT_CHANNEL = 'ALERT_CHANNEL';
export const DASHBOARD_VARIABLE = 'DASHBOARD';
const CHANNEL_VALUE = 'alert-email';
const DASHBOARD_VALUE = 'pipeline';

/** `${ALERT_POLICY_NO_COMMIT}`: the resource name of an alert policy, once found or created. */
export const policyVariable = (id: string): string => `ALERT_POLICY_${id.toUpperCase().replace(/-/g, '_')}`;

/** An e-mail address gcloud's KEY=VALUE list can carry (no comma) and the channel accepts. */
const EMAIL = /^[^\s@,=]+@[^\s@,=]+\.[^\s@,=]+$/;

export function validateAlertEmail(email: string): string {
  if (!EMAIL.test(email)) {
    throw new StreamjoinError(
      'config',
      `--alert-email must be one e-mail address (name@example.com), but was: ${JSON.stringify(email)}`,
    );
  }
  return email;
}

const policiesList = (p: string) => ['gcloud', 'alpha', 'monitoring', 'policies', 'list', p, '--format=json'];
const channelsList = (p: string) => ['gcloud', 'beta', 'monitoring', 'channels', 'list', p, '--format=json'];
const dashboardsList = (p: string) => ['gcloud', 'monitoring', 'dashboards', 'list', p, '--format=json'];

export interface MonitoringDeployOptions {
  readonly project: string;
  readonly alerts: AlertSettings;
  /** Where alerts are e-mailed (a notification channel); without it, incidents show in the console only. */
  readonly alertEmail?: string | undefined;
}

export function monitoringDeploySteps(o: MonitoringDeployOptions): GcloudStep[] {
  const p = `--project=${o.project}`;
  const steps: GcloudStep[] = [];
  for (const m of METRICS) {
    const c = logMetricConfig(m);
    const file = metricConfigFile(m);
    const expect: Expectation[] = [
      { kind: 'equals', path: 'description', value: c['description'] as string },
      { kind: 'equals', path: 'filter', value: c['filter'] as string },
      { kind: 'equals', path: 'valueExtractor', value: (c['valueExtractor'] as string | undefined) ?? null },
      {
        kind: 'equals',
        path: 'labelExtractors',
        value: (c['labelExtractors'] as Record<string, string> | undefined) ?? null,
      },
    ];
    steps.push(
      gcloud({
        id: `metric:${m.name}`,
        title: `Log-based metric ${m.name} (${m.value === undefined ? 'counter' : `distribution of ${m.value.field}`}) from ${file}`,
        action: 'ensure',
        check: { argv: ['gcloud', 'logging', 'metrics', 'describe', m.name, p, '--format=json'], expect },
        argv: ['gcloud', 'logging', 'metrics', 'create', m.name, `--config-from-file=${file}`, p, '--quiet'],
        update: [
          'gcloud',
          'logging',
          'metrics',
          'update',
          m.name,
          `--config-from-file=${file}`,
          p,
          '--quiet',
        ],
      }),
    );
  }

  const channels: string[] = [];
  if (o.alertEmail !== undefined) {
    const email = validateAlertEmail(o.alertEmail);
    const display = `--display-name=streamjoin alerts (${email})`;
    steps.push(
      gcloud({
        id: 'monitoring:channel',
        title: `E-mail notification channel for the alerts: ${email}`,
        action: 'ensure',
        check: {
          argv: channelsList(p),
          select: { path: `userLabels.${CHANNEL_LABEL}`, value: CHANNEL_VALUE },
          expect: [
            { kind: 'equals', path: 'type', value: 'email' },
            { kind: 'equals', path: 'labels.email_address', value: email },
          ],
        },
        argv: [
          'gcloud',
          'beta',
          'monitoring',
          'channels',
          'create',
          display,
          '--type=email',
          `--channel-labels=email_address=${email}`,
          `--user-labels=${CHANNEL_LABEL}=${CHANNEL_VALUE}`,
          p,
          '--quiet',
        ],
        update: [
          'gcloud',
          'beta',
          'monitoring',
          'channels',
          'update',
          ref(ALERT_CHANNEL),
          display,
          `--update-channel-labels=email_address=${email}`,
          p,
          '--quiet',
        ],
        bind: { variable: ALERT_CHANNEL, path: 'name' },
      }),
    );
    channels.push(ref(ALERT_CHANNEL));
  }

  for (const a of alertSpecs(o.alerts)) {
    const policy = alertPolicy(a, channels);
    const body = JSON.stringify(policy, null, 2);
    const variable = policyVariable(a.id);
    const expect: Expectation[] = [
      {
        kind: 'equals',
        path: `userLabels.${SPEC_KEY}`,
        value: (policy['userLabels'] as Record<string, string>)[SPEC_KEY]!,
      },
    ];
    // The channel's name is the server's: a re-created channel changes it, not the policy's hash.
    if (channels.length > 0) expect.push({ kind: 'includes', path: 'notificationChannels', value: channels });
    steps.push(
      gcloud({
        id: `alert:${a.id}`,
        title: `Alert policy "${a.displayName}" (${a.severity})`,
        action: 'ensure',
        check: { argv: policiesList(p), select: { path: `userLabels.${ALERT_LABEL}`, value: a.id }, expect },
        argv: ['gcloud', 'alpha', 'monitoring', 'policies', 'create', `--policy=${body}`, p, '--quiet'],
        update: [
          'gcloud',
          'alpha',
          'monitoring',
          'policies',
          'update',
          ref(variable),
          `--policy=${body}`,
          p,
          '--quiet',
        ],
        bind: { variable, path: 'name' },
      }),
    );
  }

  const d = dashboard();
  steps.push(
    gcloud({
      id: 'monitoring:dashboard',
      title: `Dashboard "${d['displayName'] as string}" from ${DASHBOARD_FILE}`,
      action: 'ensure',
      check: {
        argv: dashboardsList(p),
        select: { path: `labels.${DASHBOARD_LABEL}`, value: DASHBOARD_VALUE },
        expect: [
          {
            kind: 'equals',
            path: `labels.${SPEC_KEY}`,
            value: (d['labels'] as Record<string, string>)[SPEC_KEY]!,
          },
        ],
      },
      argv: [
        'gcloud',
        'monitoring',
        'dashboards',
        'create',
        `--config-from-file=${DASHBOARD_FILE}`,
        p,
        '--quiet',
      ],
      update: [
        'gcloud',
        'monitoring',
        'dashboards',
        'update',
        ref(DASHBOARD_VARIABLE),
        `--config-from-file=${DASHBOARD_FILE}`,
        p,
        '--quiet',
      ],
      bind: { variable: DASHBOARD_VARIABLE, path: 'name' },
    }),
  );
  return steps;
}

/** Removes what monitoringDeploySteps created: policies first (they name the channel), then the rest. */
export function monitoringDestroySteps(project: string, alerts: AlertSettings): GcloudStep[] {
  const p = `--project=${project}`;
  const steps: GcloudStep[] = [];
  for (const a of alertSpecs(alerts)) {
    const variable = policyVariable(a.id);
    steps.push(
      gcloud({
        id: `alert:${a.id}`,
        title: `Delete the alert policy "${a.displayName}"`,
        action: 'remove',
        check: {
          argv: policiesList(p),
          select: { path: `userLabels.${ALERT_LABEL}`, value: a.id },
          expect: [],
        },
        argv: ['gcloud', 'alpha', 'monitoring', 'policies', 'delete', ref(variable), p, '--quiet'],
        bind: { variable, path: 'name' },
      }),
    );
  }
  steps.push(
    gcloud({
      id: 'monitoring:channel',
      title: 'Delete the e-mail notification channel of the alerts (if --alert-email made one)',
      action: 'remove',
      check: {
        argv: channelsList(p),
        select: { path: `userLabels.${CHANNEL_LABEL}`, value: CHANNEL_VALUE },
        expect: [],
      },
      argv: ['gcloud', 'beta', 'monitoring', 'channels', 'delete', ref(ALERT_CHANNEL), p, '--quiet'],
      bind: { variable: ALERT_CHANNEL, path: 'name' },
    }),
  );
  steps.push(
    gcloud({
      id: 'monitoring:dashboard',
      title: 'Delete the streamjoin dashboard',
      action: 'remove',
      check: {
        argv: dashboardsList(p),
        select: { path: `labels.${DASHBOARD_LABEL}`, value: DASHBOARD_VALUE },
        expect: [],
      },
      argv: ['gcloud', 'monitoring', 'dashboards', 'delete', ref(DASHBOARD_VARIABLE), p, '--quiet'],
      bind: { variable: DASHBOARD_VARIABLE, path: 'name' },
    }),
  );
  for (const m of METRICS) {
    steps.push(
      gcloud({
        id: `metric:${m.name}`,
        title: `Delete the log-based metric ${m.name} (its history in Cloud Monitoring goes with it)`,
        action: 'remove',
        check: { argv: ['gcloud', 'logging', 'metrics', 'describe', m.name, p, '--format=json'], expect: [] },
        argv: ['gcloud', 'logging', 'metrics', 'delete', m.name, p, '--quiet'],
      }),
    );
  }
  return steps;
}
