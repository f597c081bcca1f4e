# No principal of these stacks holds AdministratorAccess, and no policy allows every action: each role gets the
# calls its holder makes (the 2018 pipeline ran CodePipeline, CodeBuild and CloudFormation under one admin role).
#
# Rego, not Guard: @aws/cloudformation-validate's Guard translation does not walk lists (Policies[*], Action[*]),
# so a Guard rule here would pass everything. The validator runs this file in-process all the same (customRules).
package custom_iam_least_privilege

import rego.v1

holders := {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}

# The policy documents of a resource: a principal's inline Policies, or an AWS::IAM::Policy's or ManagedPolicy's own.
documents contains [name, policy.PolicyDocument] if {
	some name, resource in input.resources
	resource.resourceType in holders
	policies := resolve(name, "Properties.Policies")
	some policy in ensure_list(policies)
}

documents contains [name, document] if {
	some name, resource in input.resources
	resource.resourceType in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
	document := resolve(name, "Properties.PolicyDocument")
}

violation contains make_diag("iam_no_wildcard_action", "ERROR", name, "An IAM policy allows Action \"*\"") if {
	some [name, document] in documents
	some statement in ensure_list(document.Statement)
	statement.Effect == "Allow"
	some action in ensure_list(statement.Action)
	action == "*"
}

violation contains make_diag("iam_no_administrator_access", "ERROR", name, "An IAM principal holds AdministratorAccess") if {
	some name, resource in input.resources
	resource.resourceType in holders
	arns := resolve(name, "Properties.ManagedPolicyArns")
	some arn in ensure_list(arns)
	is_string(arn)
	endswith(arn, ":policy/AdministratorAccess")
}
