package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stratastack/strata/provisioners"
)

// Config is how to reach AWS. Everything unset comes from the SDK's
// default chain: the environment, shared config and credentials files
// (profiles, SSO, credential processes), web identity, IMDS.
type Config struct {
	Region  string // else the profile's region, AWS_REGION, AWS_DEFAULT_REGION
	Profile string // else AWS_PROFILE, else "default"
	// RoleARN, when set, is assumed (sts AssumeRole) with the chain's
	// credentials.
	RoleARN string
	// Endpoint overrides every service's endpoint (tests); unset, the SDK
	// honours AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL and the profile's
	// endpoint settings.
	Endpoint    string
	Credentials sdk.CredentialsProvider // tests; else the chain
	HTTPClient  *http.Client            // tests (a fault proxy); else the SDK's
	// MaxAttempts per API call; throttling and 5xx are retried by the
	// SDK's adaptive retryer, which also slows the client down.
	MaxAttempts int
	// MaxBackoff caps the pause between attempts (the SDK's 20 s if unset).
	MaxBackoff time.Duration
	// ReadyTimeout and DeleteTimeout bound the waits for running and
	// terminated; PollInterval is the longest pause between looks.
	ReadyTimeout, DeleteTimeout, PollInterval time.Duration
}

// ConfigFrom is the Config of a kind's resolved settings; the substrate
// block's region and profile win over them (Open applies those).
func ConfigFrom(env provisioners.Env) Config {
	return Config{Region: env.Settings["region"], Profile: env.Settings["profile"], RoleARN: env.Settings["role_arn"]}
}

// Attempts per call: EC2 throttles by account and API; AWS's own tools
// retry more than the SDK's default of 3 (terraform-provider-aws: 25).
const defaultMaxAttempts = 10

// load builds the SDK configuration.
func load(ctx context.Context, c Config) (sdk.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() sdk.Retryer { return retryer(c.MaxAttempts, c.MaxBackoff) }),
		config.WithAppID("strata"),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(c.Endpoint))
	}
	if c.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(c.Credentials))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	} else {
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().
			WithTimeout(2*time.Minute). // a request hanging this long lost its server: Create looks, then retries
			WithTransportOptions(func(t *http.Transport) {
				// The engine runs many calls at once; few idle connections
				// per host would make most of them reconnect.
				t.MaxIdleConnsPerHost = 64
			})))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, configError(c, err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("aws: no region: set region in the substrate block or the provider's aws block, or AWS_REGION")
	}
	if c.RoleARN != "" {
		// The chain's credentials assume the role; the cache renews them
		// before they expire.
		cfg.Credentials = sdk.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.RoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "strata" }))
	}
	return cfg, nil
}

// configError says which setting a broken profile or file came from.
func configError(c Config, err error) error {
	var noProfile config.SharedConfigProfileNotExistError
	if errors.As(err, &noProfile) {
		return fmt.Errorf("aws: profile %q (the profile setting or AWS_PROFILE) is in neither ~/.aws/config nor ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)", noProfile.Profile)
	}
	return fmt.Errorf("aws: load the AWS configuration (profile %q): %w", cmp.Or(c.Profile, "default"), err)
}

// retryer is the SDK's adaptive mode: retries with backoff and a client
// side rate that drops when EC2 throttles and recovers after.
func retryer(attempts int, maxBackoff time.Duration) sdk.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = cmp.Or(attempts, defaultMaxAttempts)
			if maxBackoff > 0 {
				so.MaxBackoff = maxBackoff
				so.Backoff = retry.NewExponentialJitterBackoff(maxBackoff)
			}
			// The retry quota fails calls outright once many were retried;
			// a stack of hundreds of machines under throttling would hit
			// it, and the adaptive rate already backs off.
			so.RateLimiter = ratelimit.None
			// EC2 answers these with HTTP 500, which the SDK would retry for
			// minutes; they do not pass in seconds: tell the user now.
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) sdk.Ternary {
				if permanent[code(err)] {
					return sdk.FalseTernary
				}
				return sdk.UnknownTernary
			})}, so.Retryables...)
		})
	})
}
