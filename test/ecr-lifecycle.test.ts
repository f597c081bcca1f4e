import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fakeAws } from './support/fake-aws.js';
import { actionsOf, loadTemplate, one, statementsOf, type Node } from './support/cloudformation.js';

interface Rule {
  rulePriority: number;
  selection: {
    tagStatus: 'tagged' | 'untagged' | 'any';
    tagPrefixList?: string[];
    countType: 'imageCountMoreThan' | 'sinceImagePushed';
    countNumber: number;
  };
  action: { type: string };
}
interface Image {
  pushed: number; // days since the first push
  tags: string[];
}

const pipeline = loadTemplate('infra/pipeline.template.yml');
const repository = one(pipeline, 'AWS::ECR::Repository');
const policyText = (repository.Properties['LifecyclePolicy'] as { LifecyclePolicyText: string }).LifecyclePolicyText;
const policy = JSON.parse(policyText) as { rules: Rule[] };

/** The DEPLOY_ENV each stage's smoke action passes to infra/tag-deployed-image.sh. */
function deployEnvironments(): string[] {
  const stages = one(pipeline, 'AWS::CodePipeline::Pipeline').Properties['Stages'] as Node[];
  return stages
    .map((entry) => ('Fn::If' in entry ? (entry['Fn::If'] as Node[])[1] : entry) as { Actions: Node[] })
    .flatMap((stage) => stage.Actions)
    .filter((action) => action['Name'] === 'Smoke')
    .map((action) => {
      const variables = (action['Configuration'] as Node)['EnvironmentVariables'];
      const text = typeof variables === 'string' ? variables : String((variables as Node)['Fn::Sub']);
      const list = JSON.parse(text) as { name: string; value: string }[];
      return list.find((v) => v.name === 'DEPLOY_ENV')?.value ?? '';
    });
}

/**
 * Which images a lifecycle policy expires, by the rules ECR documents
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html, "How lifecycle policies work"):
 * rules run from the lowest priority number; an image that matches the tagging requirements of a rule cannot be
 * expired by a rule of lower priority; a count rule keeps the newest countNumber images its selection matches, by
 * push time, and counts images other rules claimed as if they were still there; a tag prefix list matches when each
 * prefix starts one of the image's tags.
 */
function expiredBy(rules: Rule[], images: Image[], today: number): Set<number> {
  const selects = (rule: Rule, image: Image) => {
    const { tagStatus, tagPrefixList = [] } = rule.selection;
    if (tagStatus === 'any') return true;
    if (tagStatus === 'untagged') return image.tags.length === 0;
    return image.tags.length > 0 && tagPrefixList.every((prefix) => image.tags.some((tag) => tag.startsWith(prefix)));
  };
  const expired = new Set<number>();
  const claimed = new Set<number>();
  for (const rule of [...rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    const matching = images
      .map((image, index) => ({ image, index }))
      .filter(({ image }) => selects(rule, image))
      .sort((a, b) => b.image.pushed - a.image.pushed);
    const { countType, countNumber } = rule.selection;
    const over =
      countType === 'imageCountMoreThan'
        ? matching.slice(countNumber)
        : matching.filter(({ image }) => today - image.pushed > countNumber);
    for (const { index } of over) if (!claimed.has(index)) expired.add(index);
    for (const { index } of matching) claimed.add(index);
  }
  return expired;
}

/** 300 builds, one a day, each deployed to dev; prod took every build up to `prodStopsAt`, then none (approvals pending). */
function history(prodStopsAt: number) {
  const images: Image[] = [];
  for (let build = 0; build < 300; build++) {
    const commit = `c${String(build).padStart(39, '0')}`;
    const tags = [commit, `dev-${commit}`];
    if (build <= prodStopsAt) tags.push(`prod-${commit}`);
    images.push({ pushed: build, tags });
  }
  return { images, devRuns: 299, prodRuns: prodStopsAt };
}

describe('the ECR lifecycle policy never expires an image an environment runs', () => {
  it('keeps the image prod runs when prod lags dev by 250 builds, and the one dev runs', () => {
    const { images, devRuns, prodRuns } = history(49);
    const expired = expiredBy(policy.rules, images, 300);
    assert.ok(!expired.has(prodRuns), "prod's image is kept");
    assert.ok(!expired.has(devRuns), "dev's image is kept");
    assert.ok(expired.size > 150, 'and it still expires old builds');
  });

  it("keeps prod's last 20 releases for a rollback by hand, however old", () => {
    const { images } = history(49);
    const expired = expiredBy(policy.rules, images, 300);
    for (let release = 30; release <= 49; release++) assert.ok(!expired.has(release), `release ${release}`);
  });

  it('is no rubber stamp: the old policy (the last 100 of any) expires the image prod runs', () => {
    const old: Rule[] = [
      {
        rulePriority: 1,
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 1 },
        action: { type: 'expire' },
      },
      {
        rulePriority: 2,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 100 },
        action: { type: 'expire' },
      },
    ];
    const { images, prodRuns } = history(49);
    assert.ok(expiredBy(old, images, 300).has(prodRuns));
    // And the environments' rules must come before the catch-all: put last, they protect nothing.
    const reordered = policy.rules.map((rule) =>
      rule.selection.tagStatus === 'tagged' ? { ...rule, rulePriority: rule.rulePriority + 100 } : rule,
    );
    assert.ok(expiredBy(reordered, images, 300).has(prodRuns));
  });

  it('has one keeping rule per environment the pipeline tags, each before the catch-all, as ECR requires', () => {
    const environments = deployEnvironments();
    assert.deepEqual(environments, ['dev', 'prod']);
    const kept = policy.rules.filter((rule) => rule.selection.tagStatus === 'tagged');
    assert.deepEqual(kept.map((rule) => rule.selection.tagPrefixList).sort(), [['dev-'], ['prod-']]);
    const catchAll = policy.rules.filter((rule) => rule.selection.tagStatus === 'any');
    assert.equal(catchAll.length, 1);
    // "A rule with a tagStatus value of any must have the highest value for rulePriority" (lifecycle_policy_parameters).
    for (const rule of policy.rules) assert.ok(rule.rulePriority <= (catchAll[0]?.rulePriority ?? 0));
    assert.equal(new Set(policy.rules.map((rule) => rule.rulePriority)).size, policy.rules.length);
    for (const rule of kept) assert.ok(rule.selection.countNumber >= 1);
  });

  it('lets the smoke build tag images in this repository only, and runs the tagging before the smoke test', () => {
    const smokeRole = pipeline.Resources['SmokeBuildRole'];
    assert.ok(smokeRole);
    const ecr = statementsOf(smokeRole).filter((s) => actionsOf(s).some((a) => a.startsWith('ecr:')));
    assert.deepEqual(
      ecr.map((s) => [actionsOf(s).sort(), s.Resource]),
      [[['ecr:BatchGetImage', 'ecr:PutImage'], { 'Fn::GetAtt': ['ImageRepository', 'Arn'] }]],
    );
    const buildspec = readFileSync('smoke.buildspec.yml', 'utf8');
    assert.ok(buildspec.indexOf('bash infra/tag-deployed-image.sh') < buildspec.indexOf('npm run smoke'));
    assert.ok(buildspec.includes('bash infra/tag-deployed-image.sh'));
  });
});

/** A stand-in for the AWS CLI's two ECR calls, over a repository kept as one file per tag (AWS cannot run here). */
const fakeEcr = `#!/usr/bin/env bash
set -u
echo "$*" >> "$AWS_STATE/calls"
args=" $* "
tag_of() { sed -E 's/.*imageTag=([^ ]+).*/\\1/' <<< "$args"; }
case "$1 $2" in
  "ecr batch-get-image")
    tag=$(tag_of)
    [[ "$args" == *imageManifestMediaType* ]] && { echo "application/vnd.oci.image.manifest.v1+json"; exit 0; }
    cat "$AWS_STATE/tags/$tag" ;;
  "ecr put-image")
    [ -f "$AWS_STATE/deny" ] && { echo "An error occurred (AccessDeniedException)" >&2; exit 254; }
    tag=$(sed -E 's/.* --image-tag ([^ ]+) .*/\\1/' <<< "$args")
    manifest=$(sed -E 's/.* --image-manifest (.*) --image-manifest-media-type.*/\\1/' <<< "$args")
    if [ -f "$AWS_STATE/tags/$tag" ]; then
      echo "An error occurred (ImageAlreadyExistsException) when calling the PutImage operation" >&2; exit 254
    fi
    printf '%s' "$manifest" > "$AWS_STATE/tags/$tag" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

function repositoryWith(commit: string, options: { deny?: boolean } = {}) {
  const aws = fakeAws(fakeEcr);
  mkdirSync(join(aws.dir, 'tags'));
  writeFileSync(join(aws.dir, 'tags', commit), '{"schemaVersion":2,"layers":[]}');
  if (options.deny) writeFileSync(join(aws.dir, 'deny'), '');
  const run = (env: string) =>
    aws.run('infra/tag-deployed-image.sh', {
      IMAGE_URI: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/product-service-pipeline-imagerepository-abc:${commit}`,
      DEPLOY_ENV: env,
    });
  const manifest = (tag: string) => readFileSync(join(aws.dir, 'tags', tag), 'utf8');
  return { run, manifest };
}

describe('infra/tag-deployed-image.sh', () => {
  const commit = '0123456789abcdef0123456789abcdef01234567';

  it("tags the image <env>-<commit> with the commit tag's very manifest", () => {
    const repo = repositoryWith(commit);
    const result = repo.run('prod');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(repo.manifest(`prod-${commit}`), repo.manifest(commit));
    const [prefix] = policy.rules.flatMap((rule) => rule.selection.tagPrefixList ?? []).filter((p) => p === 'prod-');
    assert.ok(prefix && `prod-${commit}`.startsWith(prefix), 'the tag is one the lifecycle policy keeps');
  });

  it('succeeds when the tag is there already (a stage rollback re-runs it for an image it tagged before)', () => {
    const repo = repositoryWith(commit);
    repo.run('dev');
    const again = repo.run('dev');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /tagged dev-.* already/);
  });

  it('fails on any other error, so a smoke build that cannot protect its image says so', () => {
    const result = repositoryWith(commit, { deny: true }).run('dev');
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /AccessDenied/);
  });
});
