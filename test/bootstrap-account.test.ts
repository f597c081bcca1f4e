import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fakeAws } from './support/fake-aws.js';

// The three service-linked roles a first ECS service behind an ALB with autoscaling needs, by the service principal
// that creates each and the name IAM gives it
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html, and each service's page).
const needed = {
  'ecs.amazonaws.com': 'AWSServiceRoleForECS',
  'elasticloadbalancing.amazonaws.com': 'AWSServiceRoleForElasticLoadBalancing',
  'ecs.application-autoscaling.amazonaws.com': 'AWSServiceRoleForApplicationAutoScaling_ECSService',
} as const;

/**
 * A stand-in for the AWS CLI's three IAM calls the script makes, over an account kept as one file per role in a
 * folder (AWS itself cannot run here). Like IAM, creating a role that exists fails, and so does a principal that has
 * no service-linked role of that kind.
 */
const fakeIam = `#!/usr/bin/env bash
set -u
echo "$*" >> "$AWS_STATE/calls"
case "$1 $2" in
  "iam get-role"|"iam wait")
    role="\${@: -1}"
    [ -f "$AWS_STATE/roles/$role" ] && exit 0
    echo "An error occurred (NoSuchEntity) when calling the GetRole operation" >&2; exit 254 ;;
  "iam create-service-linked-role")
    [ -f "$AWS_STATE/deny" ] && { echo "An error occurred (AccessDenied)" >&2; exit 254; }
    case "$4" in
${Object.entries(needed)
  .map(([service, role]) => `      ${service}) role=${role} ;;`)
  .join('\n')}
      *) echo "An error occurred (InvalidInput)" >&2; exit 254 ;;
    esac
    [ -f "$AWS_STATE/roles/$role" ] && { echo "An error occurred (InvalidInput): role name taken" >&2; exit 254; }
    touch "$AWS_STATE/roles/$role" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

function account(existing: string[] = [], options: { deny?: boolean } = {}) {
  const aws = fakeAws(fakeIam);
  mkdirSync(join(aws.dir, 'roles'));
  for (const role of existing) writeFileSync(join(aws.dir, 'roles', role), '');
  if (options.deny) writeFileSync(join(aws.dir, 'deny'), '');
  const run = (script = 'infra/bootstrap-account.sh') => aws.run(script);
  const roles = () => readdirSync(join(aws.dir, 'roles')).sort();
  const creations = () =>
    readFileSync(join(aws.dir, 'calls'), 'utf8')
      .split('\n')
      .filter((call) => call.startsWith('iam create-service-linked-role'));
  return { run, roles, creations };
}

const allRoles = Object.values(needed).slice().sort();

describe('infra/bootstrap-account.sh: the service-linked roles before the first service', () => {
  it('creates the ECS, Elastic Load Balancing and Application Auto Scaling roles in an account that has none', () => {
    const fresh = account();
    const result = fresh.run();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(fresh.roles(), allRoles);
    assert.equal(fresh.creations().length, 3);
    for (const role of allRoles) assert.match(result.stdout, new RegExp(`^${role} created$`, 'm'));
  });

  it('is idempotent: run again, it creates nothing and says each exists', () => {
    const fresh = account();
    fresh.run();
    const again = fresh.run();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(fresh.creations().length, 3, 'no second creation');
    for (const role of allRoles) assert.match(again.stdout, new RegExp(`^${role} exists$`, 'm'));
  });

  it('creates only what is missing in an account that has run ECS before', () => {
    const used = account(['AWSServiceRoleForECS']);
    assert.equal(used.run().status, 0);
    assert.deepEqual(used.roles(), allRoles);
    assert.equal(used.creations().length, 2);
  });

  it('fails, rather than carrying on, when the caller may not create a role', () => {
    const denied = account([], { deny: true });
    const result = denied.run();
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /AccessDenied/);
  });

  it('is no rubber stamp: a copy that forgets the load balancer role leaves the account without it', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'script-')), 'bootstrap-account.sh');
    writeFileSync(
      copy,
      readFileSync('infra/bootstrap-account.sh', 'utf8').replace(/^.*elasticloadbalancing\.amazonaws\.com.*$/m, ''),
    );
    const fresh = account();
    assert.equal(fresh.run(copy).status, 0);
    assert.notDeepEqual(fresh.roles(), allRoles);
    assert.ok(!fresh.roles().includes('AWSServiceRoleForElasticLoadBalancing'));
  });
});
