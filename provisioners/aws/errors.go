package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stratastack/strata/provisioners"
)

// code is the AWS error code in err ("InvalidAMIID.NotFound"), or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// message is AWS's own words for err.
func message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return err.Error()
}

// status is the HTTP status of the answer err came with, or 0.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.StatusCode
	}
	return 0 // the SDK wraps a request that got no answer in a ResponseError too
}

// throttled codes: the SDK's adaptive retryer already retried them.
func throttled(c string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[c]
	return ok
}

// credentialCodes are AWS refusing who we are, not what we ask.
var credentialCodes = map[string]bool{
	"AuthFailure": true, "InvalidClientTokenId": true, "SignatureDoesNotMatch": true,
	"UnrecognizedClientException": true, "ExpiredToken": true, "RequestExpired": true,
	"InvalidAccessKeyId": true, "OptInRequired": true,
}

// permanent are refusals that waiting seconds does not cure, whatever
// their HTTP status.
var permanent = map[string]bool{
	"InsufficientInstanceCapacity": true, "InsufficientHostCapacity": true, "InsufficientReservedInstanceCapacity": true,
	"VcpuLimitExceeded": true, "InstanceLimitExceeded": true, "MaxSpotInstanceCountExceeded": true,
	"Unsupported": true,
}

// apiError is a failed call: what was being done and what AWS said, with
// the setting to change when one is to blame.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// fail wraps err from an AWS call with what was being done and a hint the
// user can act on; throttling that outlasted the retryer, 5xx answers and
// dropped connections are Transient, so the engine tries again later.
func (p *Provisioner) fail(ctx context.Context, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("aws: %s: %w", what, err)
	}
	c := code(err)
	e := &apiError{err: err, msg: fmt.Sprintf("aws: %s in %s: %s", what, p.region, hint(c, message(err)))}
	switch {
	case c == "UnauthorizedOperation" || c == "AccessDenied" || c == "AccessDeniedException":
		e.msg = fmt.Sprintf("aws: %s in %s: the credentials (%s) are not allowed to: %s", what, p.region, p.who, p.decode(ctx, message(err)))
	case credentialCodes[c]:
		e.msg = fmt.Sprintf("aws: %s in %s: AWS refused the credentials (%s): %s (%s); check the profile setting (AWS_PROFILE), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, role_arn, and that the region is enabled for the account", what, p.region, p.who, message(err), c)
	case c == "" && noCredentials(err):
		e.msg = fmt.Sprintf("aws: %s in %s: no AWS credentials found: %v; set a profile (AWS_PROFILE) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, log in with `aws sso login`, or run where an instance role is available", what, p.region, err)
	case permanent[c]:
	case throttled(c) || status(err) >= 500 || c == "" && provisioners.Dropped(err):
		return provisioners.Transient(e)
	case c == "" && status(err) == 0:
		e.msg = fmt.Sprintf("aws: %s in %s: %v", what, p.region, err)
		return provisioners.Transient(e) // no answer at all: the network
	}
	return e
}

// hint adds what to do to the errors a user can act on.
func hint(c, msg string) string {
	var h string
	switch {
	case c == "InsufficientInstanceCapacity" || c == "Server.InsufficientInstanceCapacity":
		h = "AWS has no capacity for this instance type in this zone now: choose another instance_type, add subnets in other zones (subnet_ids), or try later"
	case c == "VcpuLimitExceeded" || c == "InstanceLimitExceeded" || c == "MaxSpotInstanceCountExceeded":
		h = "the account's quota for this instance type is reached: remove instances or request an increase in Service Quotas (\"Running On-Demand ... instances\")"
	case strings.HasPrefix(c, "InvalidAMIID."):
		h = "the ami setting names no image usable in this region and account"
	case strings.HasPrefix(c, "InvalidSubnetID.") || strings.HasPrefix(c, "InvalidSubnet"):
		h = "subnet_id / subnet_ids name no subnet in this region"
	case strings.HasPrefix(c, "InvalidGroup") || strings.HasPrefix(c, "InvalidSecurityGroupID"):
		h = "security_group_ids names no security group of the subnet's VPC"
	case strings.HasPrefix(c, "InvalidKeyPair."):
		h = "key_name names no key pair in this region: import it with `aws ec2 import-key-pair`"
	case strings.HasPrefix(c, "InvalidPlacementGroup."):
		h = "placement_group names no placement group in this region: strata uses existing ones only"
	case strings.HasPrefix(c, "InvalidInstanceType") || c == "Unsupported":
		h = "instance_type is not offered here (or not with this AMI's architecture or in this zone)"
	case c == "IdempotentParameterMismatch":
		h = "a launch with the same client token but other settings exists"
	}
	out := msg
	if c != "" {
		out = fmt.Sprintf("%s (%s)", msg, c)
	}
	if h != "" {
		out += "; " + h
	}
	return out
}

// noCredentials is the SDK finding no credentials anywhere in its chain.
func noCredentials(err error) bool {
	s := err.Error()
	return strings.Contains(s, "failed to retrieve credentials") || strings.Contains(s, "failed to refresh cached credentials")
}

var encoded = regexp.MustCompile(`Encoded authorization failure message: ([A-Za-z0-9_\-]+)`)

// decode replaces the encoded authorization message in an
// UnauthorizedOperation with what it says (which action on which
// resource), when the credentials may call sts:DecodeAuthorizationMessage.
func (p *Provisioner) decode(ctx context.Context, msg string) string {
	m := encoded.FindStringSubmatch(msg)
	if m == nil || p.sts == nil {
		return msg
	}
	out, err := p.sts.DecodeAuthorizationMessage(ctx, &sts.DecodeAuthorizationMessageInput{EncodedMessage: &m[1]})
	if err != nil || out.DecodedMessage == nil {
		return msg + " (grant sts:DecodeAuthorizationMessage to read why)"
	}
	return strings.Replace(msg, m[0], "Decoded authorization failure message: "+*out.DecodedMessage, 1)
}
