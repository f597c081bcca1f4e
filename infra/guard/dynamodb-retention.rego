# The products are the one thing the service cannot rebuild: neither deleting the stack nor a change that replaces
# a table may take the data with it.
#
# Rego, not Guard: @aws/cloudformation-validate's Guard translation sees only a resource's Type and Properties, not
# DeletionPolicy or UpdateReplacePolicy. The validator runs this file in-process all the same (customRules).
package custom_dynamodb_retention

import rego.v1

violation contains make_diag("dynamodb_table_kept", "ERROR", name, "An AWS::DynamoDB::Table needs DeletionPolicy and UpdateReplacePolicy, each Retain or Snapshot") if {
	some name, resource in input.resources
	resource.resourceType == "AWS::DynamoDB::Table"
	some policy in [object.get(resource, "deletionPolicy", null), object.get(resource, "updateReplacePolicy", null)]
	not policy in {"Retain", "Snapshot"}
}
