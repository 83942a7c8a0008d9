// Package aws is the AWS EC2 substrate: the settings a `substrate "aws"`
// block accepts and a provisioner on aws-sdk-go-v2 that makes one
// instance per machine (RunInstances with a client token, tags on the
// instance and its volumes, user-data, IMDSv2 required), waits for it to
// run, lists a stack's instances by tag and terminates them.
//
// Everything a user can get wrong (the AMI, subnets, security groups, key
// pair, permissions) is checked before anything is made, and AWS's
// refusals are told with the setting to change. Throttling goes through
// the SDK's adaptive retryer; a launch whose answer was lost is looked
// for by its tags before it is sent again, so an endpoint that ignores
// client tokens (moto) never gets a machine twice.
//
// The tests run against moto's EC2 server (see mototest) with a fault
// proxy between the SDK and moto for what moto cannot do.
package aws
