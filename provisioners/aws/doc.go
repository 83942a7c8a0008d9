// Package aws is the AWS EC2 substrate: the settings a `substrate "aws"`
// block accepts (and, later, the aws-sdk-go-v2 provisioner).
package aws
