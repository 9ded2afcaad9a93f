// The monitoring steps carried out against the model of the cloud: created once and found again by
// their labels (alert policies, the e-mail channel and the dashboard have server-assigned ids),
// updated in place when they differ, and all removed by destroy — policies before the channel they
// notify.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executePlan, selectResources } from '../../../infra/gcp/execute.ts';
import { METRICS } from '../../../infra/gcp/monitoring.ts';
import { planDeploy, planDestroy } from '../../../infra/gcp/plan.ts';
import { loadDeploySettings } from '../../../infra/gcp/settings.ts';
import { loadConfig } from '../../../shared/config.ts';
import { FakeCloud } from './fake-cloud.ts';
import { SAMPLE_ENV, sampleDeployOptions } from './sample.ts';

async function deploy(cloud: FakeCloud, alertEmail?: string) {
  const plan = planDeploy(loadConfig(SAMPLE_ENV), { ...(await sampleDeployOptions()), alertEmail });
  return executePlan(plan, cloud.run, {
    scheduler: cloud.scheduler,
    rules: cloud.rules,
    sleep: async () => {},
  });
}

async function destroy(cloud: FakeCloud) {
  const plan = planDestroy(loadConfig(SAMPLE_ENV), {
    project: 'sample-project',
    region: 'europe-west1',
    deleteData: false,
    settings: loadDeploySettings({}),
  });
  return executePlan(plan, cloud.run, {
    scheduler: cloud.scheduler,
    rules: cloud.rules,
    sleep: async () => {},
  });
}

const labelled = (m: Map<string, Record<string, unknown>>, key: string) =>
  [...m.values()].map((r) => (r['userLabels'] as Record<string, string>)[key]).sort();

test('deploy creates the metrics, the alert policies and the dashboard once; a second deploy only reads', async () => {
  const cloud = new FakeCloud();
  const first = await deploy(cloud);
  assert.deepEqual([...cloud.logMetrics.keys()].sort(), METRICS.map((m) => m.name).sort());
  assert.deepEqual(labelled(cloud.alertPolicies, 'streamjoin-alert'), [
    'alert-logged',
    'eviction-lag',
    'flush-failures',
    'ingest-failures',
    'no-commit',
    'reconcile-found',
    'rejects',
  ]);
  assert.equal(cloud.dashboards.size, 1);
  assert.equal(cloud.channels.size, 0, 'no channel without --alert-email');
  for (const p of cloud.alertPolicies.values()) assert.equal(p['notificationChannels'], undefined);
  const created = first.steps.filter((s) => /^(metric|alert|monitoring):/.test(s.id));
  assert.ok(
    created.every((s) => s.outcome === 'created'),
    JSON.stringify(created.filter((s) => s.outcome !== 'created')),
  );
  // The dashboard's variable is bound from the created resource's name.
  assert.match(first.variables['DASHBOARD'] ?? '', /^projects\/42\/dashboards\/\d+$/);

  cloud.mutations = [];
  const second = await deploy(cloud);
  assert.deepEqual(cloud.mutations, []);
  assert.ok(
    second.steps
      .filter((s) => /^(metric|alert|monitoring):/.test(s.id))
      .every((s) => s.outcome === 'unchanged'),
  );
});

test('--alert-email: one channel, every policy notifies it; a new address updates the channel in place', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud, 'ops@example.com');
  assert.equal(cloud.channels.size, 1);
  const [channel] = [...cloud.channels.values()];
  assert.deepEqual(channel!['labels'], { email_address: 'ops@example.com' });
  assert.equal(channel!['type'], 'email');
  for (const p of cloud.alertPolicies.values())
    assert.deepEqual(p['notificationChannels'], [channel!['name']]);

  cloud.mutations = [];
  await deploy(cloud, 'oncall@example.com');
  assert.equal(cloud.channels.size, 1, 'the same channel, not a second one');
  assert.deepEqual([...cloud.channels.values()][0]!['labels'], { email_address: 'oncall@example.com' });
  assert.equal(cloud.mutations.length, 1);
  assert.match(
    cloud.mutations[0]!,
    /^gcloud beta monitoring channels update projects\/sample-project\/notificationChannels\/\d+ /,
  );

  // A channel deleted by hand and made again has a new name: the policies follow it.
  const old = [...cloud.channels.keys()][0]!;
  for (const p of cloud.alertPolicies.values()) p['notificationChannels'] = [];
  cloud.channels.delete(old);
  await deploy(cloud, 'oncall@example.com');
  const renewed = [...cloud.channels.keys()][0]!;
  assert.notEqual(renewed, old);
  for (const p of cloud.alertPolicies.values()) assert.deepEqual(p['notificationChannels'], [renewed]);

  await assert.rejects(deploy(cloud, 'not an address'), /--alert-email must be one e-mail address/);
});

test('drift: an edited dashboard, policy or metric is put back with its update command', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud);
  const [dashName, dash] = [...cloud.dashboards.entries()][0]!;
  dash['labels'] = { 'streamjoin-dashboard': 'pipeline', 'streamjoin-spec': 'edited-by-hand' };
  const [policyName, policy] = [...cloud.alertPolicies.entries()][0]!;
  (policy['userLabels'] as Record<string, string>)['streamjoin-spec'] = 'edited';
  cloud.logMetrics.get('streamjoin_commits')!['filter'] = 'severity>=DEFAULT';
  cloud.mutations = [];
  await deploy(cloud);
  assert.deepEqual(cloud.mutations.map((m) => m.split(' ').slice(0, 6).join(' ')).sort(), [
    `gcloud alpha monitoring policies update ${policyName}`,
    'gcloud logging metrics update streamjoin_commits --config-from-file=infra/gcp/monitoring/metrics/streamjoin_commits.json',
    `gcloud monitoring dashboards update ${dashName} --config-from-file=infra/gcp/monitoring/dashboard.json`,
  ]);
  assert.equal(cloud.dashboards.size, 1);
  assert.equal(cloud.alertPolicies.size, 7);
  assert.match(cloud.logMetrics.get('streamjoin_commits')!['filter'] as string, /committed staged batches/);
});

test('destroy removes every policy (duplicates too), the channel after them, the dashboard and the metrics', async () => {
  const cloud = new FakeCloud();
  await deploy(cloud, 'ops@example.com');
  // A policy created twice (a deploy interrupted between its create and its check).
  const dup = [...cloud.alertPolicies.values()][0]!;
  cloud.alertPolicies.set('projects/sample-project/alertPolicies/1', {
    ...dup,
    name: 'projects/sample-project/alertPolicies/1',
  });
  const report = await destroy(cloud);
  assert.equal(cloud.alertPolicies.size, 0);
  assert.equal(cloud.channels.size, 0, 'the channel goes once no policy names it');
  assert.equal(cloud.dashboards.size, 0);
  assert.equal(cloud.logMetrics.size, 0);
  assert.ok(
    report.steps.some(
      (s) =>
        s.id === 'alert:' + (dup['userLabels'] as Record<string, string>)['streamjoin-alert'] &&
        s.detail === '2 of them',
    ),
  );
  cloud.mutations = [];
  await destroy(cloud);
  assert.deepEqual(cloud.mutations, [], 'a second destroy finds nothing');
});

test('selectResources: the list elements with the label; a check that is not a list is a plan bug', () => {
  const check = { argv: ['gcloud', 'x', 'list'], expect: [], select: { path: 'userLabels.k', value: 'v' } };
  const list = [
    { userLabels: { k: 'v' }, n: 1 },
    { userLabels: { k: 'w' } },
    { n: 3 },
    { userLabels: { k: 'v' }, n: 4 },
  ];
  assert.deepEqual(
    selectResources(check, { found: true, doc: list }).map((e) => (e as { n: number }).n),
    [1, 4],
  );
  assert.deepEqual(selectResources(check, { found: true, doc: [] }), []);
  assert.deepEqual(selectResources(check, { found: false }), []);
  assert.throws(
    () => selectResources(check, { found: true, doc: { userLabels: { k: 'v' } } }),
    /expected a JSON list/,
  );
  assert.deepEqual(selectResources({ argv: ['gcloud'], expect: [] }, { found: true, doc: { a: 1 } }), [
    { a: 1 },
  ]);
});
