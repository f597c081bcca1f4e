#!/usr/bin/env bash
# Once per AWS account, before the pipeline's first deploy (docs/deploy.md, "First deploy to a fresh account"):
# create the service-linked roles that ECS, Elastic Load Balancing and Application Auto Scaling would otherwise create
# on first use. Created on first use, they race IAM's propagation, and the first ECS service in a new account fails
# now and then with "Unable to assume the service linked role" and ends ROLLBACK_COMPLETE
# (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/818); granting
# iam:CreateServiceLinkedRole does not remove the race, creating the roles beforehand does.
# Idempotent: a role that exists is left as it is. Needs AWS CLI v2 and iam:GetRole, iam:CreateServiceLinkedRole.
set -euo pipefail

# The service principal, and the role IAM names after it
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
roles=(
  "ecs.amazonaws.com AWSServiceRoleForECS"
  "elasticloadbalancing.amazonaws.com AWSServiceRoleForElasticLoadBalancing"
  "ecs.application-autoscaling.amazonaws.com AWSServiceRoleForApplicationAutoScaling_ECSService"
)

for entry in "${roles[@]}"; do
  read -r service role <<< "$entry"
  if aws iam get-role --role-name "$role" > /dev/null 2>&1; then
    echo "$role exists"
  else
    aws iam create-service-linked-role --aws-service-name "$service" > /dev/null
    # Returns once IAM answers for the role; the first ECS service may still be minutes away, which is the point.
    aws iam wait role-exists --role-name "$role"
    echo "$role created"
  fi
done
