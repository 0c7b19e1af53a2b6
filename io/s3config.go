package dataio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// S3Options configures the s3:// backend. The zero value, completed by
// S3OptionsFromEnv, is what AWS tools do: credentials from the environment,
// the shared files (~/.aws/credentials, ~/.aws/config, AWS_PROFILE) or the
// instance / IRSA role; region and endpoint from the environment or the
// profile.
type S3Options struct {
	// Endpoint is the S3 API's URL ("http://127.0.0.1:7070",
	// "https://s3.eu-west-1.amazonaws.com"); empty means AWS. A host
	// without a scheme is taken as https.
	Endpoint string
	// Region is the bucket region (AWS_REGION); empty lets the client ask.
	Region string
	// Profile names the shared-file profile (AWS_PROFILE; "default").
	Profile string
	// Addressing is "auto" (the default: virtual-hosted on AWS, path-style
	// elsewhere), "path" or "virtual".
	Addressing string
	// MaxAttempts bounds the attempts of one request on 5xx, SlowDown
	// and connection errors, with exponential backoff (AWS_MAX_ATTEMPTS;
	// default 10).
	MaxAttempts int
	// PartSize is the size of the first parts of a multipart upload
	// (default 8 MiB; later parts grow, so that 10,000 parts hold 440 GB).
	// Smaller files are written with one PUT.
	PartSize int64
	// Credentials, when set, replace the provider chain (tests).
	Credentials *credentials.Credentials
	// Transport, when set, replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Defaults of S3Options.
const (
	DefaultS3MaxAttempts = 10
	DefaultS3PartSize    = 8 << 20
	minS3PartSize        = 5 << 20
)

// ErrStorageSetup is wrapped by errors that say the storage is set up
// wrongly rather than that a run failed: credentials refused, access
// denied, a bucket that does not exist, an unusable endpoint. Commands map
// it to the usage/configuration exit code.
var ErrStorageSetup = errors.New("storage set-up")

// S3OptionsFromEnv returns o with its empty fields filled from the
// environment and the shared AWS config file, as AWS tools read them:
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (or the profile's endpoint_url),
// AWS_REGION or AWS_DEFAULT_REGION (or the profile's region), AWS_PROFILE,
// AWS_MAX_ATTEMPTS (or the profile's max_attempts), and the profile's
// s3 addressing_style.
func S3OptionsFromEnv(o S3Options) S3Options {
	if o.Profile == "" {
		o.Profile = os.Getenv("AWS_PROFILE")
	}
	prof := awsConfigProfile(o.Profile)
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	o.Endpoint = first(o.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), prof["endpoint_url"])
	o.Region = first(o.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), prof["region"])
	o.Addressing = first(o.Addressing, prof["s3.addressing_style"])
	if o.MaxAttempts == 0 {
		if n, err := strconv.Atoi(first(os.Getenv("AWS_MAX_ATTEMPTS"), prof["max_attempts"])); err == nil && n > 0 {
			o.MaxAttempts = n
		}
	}
	return o
}

// awsConfigProfile reads the profile's keys from the shared config file
// (AWS_CONFIG_FILE or ~/.aws/config); keys of the nested "s3 =" block are
// returned as "s3.KEY". Missing files give nothing.
func awsConfigProfile(profile string) map[string]string {
	file := os.Getenv("AWS_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		file = filepath.Join(home, ".aws", "config")
	}
	cfg, err := ini.LoadSources(ini.LoadOptions{AllowNestedValues: true, Insensitive: true}, file)
	if err != nil {
		return nil
	}
	if profile == "" {
		profile = "default"
	}
	name := "profile " + profile
	if profile == "default" && !cfg.HasSection(name) {
		name = "default"
	}
	sec, err := cfg.GetSection(name)
	if err != nil {
		return nil
	}
	out := make(map[string]string)
	for _, k := range sec.Keys() {
		out[k.Name()] = k.Value()
		if k.Name() == "s3" {
			for _, nv := range k.NestedValues() {
				if kk, vv, ok := strings.Cut(nv, "="); ok {
					out["s3."+strings.TrimSpace(kk)] = strings.TrimSpace(vv)
				}
			}
		}
	}
	return out
}

// credentialChain is the provider chain AWS tools use: the environment,
// the shared files, then the IAM role of the instance, container or pod
// (IRSA's web identity token). The instance metadata service is not asked
// when AWS_EC2_METADATA_DISABLED is true.
func credentialChain(profile string) *credentials.Credentials {
	providers := []credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: profile},
	}
	imdsOff := strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true")
	webOrContainer := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" || os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" ||
		os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != ""
	if !imdsOff || webOrContainer {
		providers = append(providers, &credentials.IAM{})
	}
	return credentials.NewChainCredentials(providers)
}

// endpointHost parses an endpoint URL into the host and whether it uses
// TLS. User information in the URL is refused (it would be a secret in
// logs).
func endpointHost(endpoint string) (host string, secure bool, err error) {
	if endpoint == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("%w: S3 endpoint %q is not a URL such as http://127.0.0.1:7070 or https://s3.example.com", ErrStorageSetup, redactURL(endpoint))
	}
	if u.User != nil {
		return "", false, fmt.Errorf("%w: S3 endpoint %s holds user information; give credentials through AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile instead", ErrStorageSetup, redactURL(endpoint))
	}
	if u.Path != "" && u.Path != "/" {
		return "", false, fmt.Errorf("%w: S3 endpoint %s has a path; give only scheme, host and port", ErrStorageSetup, redactURL(endpoint))
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return u.Host, false, nil
	case "https":
		return u.Host, true, nil
	}
	return "", false, fmt.Errorf("%w: S3 endpoint %s: scheme must be http or https", ErrStorageSetup, redactURL(endpoint))
}

// redactURL removes user information from a URL-like string.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return s
}

// Storage holds the storage backends of a process: the local file system
// and, built on first use, the S3 client.
type Storage struct {
	mu     sync.Mutex
	opts   S3Options
	set    bool
	client *s3FS
	err    error
}

// defaultStorage serves every path this package opens. Like
// http.DefaultClient it is process-wide: stages rebuilt from their
// configuration in any process reach the same stores, configured by the
// environment (and, in the sluice command, by its --s3-* flags).
var defaultStorage = &Storage{}

// SetS3Options configures the s3:// backend of this process; fields left
// empty are filled from the environment (S3OptionsFromEnv). Call it before
// the first s3:// path is used; a later call replaces the client.
func SetS3Options(o S3Options) {
	defaultStorage.mu.Lock()
	defer defaultStorage.mu.Unlock()
	defaultStorage.opts, defaultStorage.set = o, true
	defaultStorage.client, defaultStorage.err = nil, nil
}

func (s *Storage) s3() (*s3FS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil && s.err == nil {
		s.client, s.err = newS3FS(S3OptionsFromEnv(s.opts))
	}
	return s.client, s.err
}

// S3Counters counts the requests the s3:// backend made in this process
// (for tests and benchmarks).
type S3Counters struct {
	Gets, GetBytes, Puts, PutBytes, Parts, Lists, Heads, Deletes, Aborts int64
}

// S3RequestCounts returns the s3:// backend's counters so far.
func S3RequestCounts() S3Counters {
	c, err := defaultStorage.s3()
	if err != nil {
		return S3Counters{}
	}
	return c.counts()
}

// CheckStorage checks, before any work, that the store holding p can be
// reached with the configured credentials: for s3:// that the bucket
// exists and can be listed (and, with write, that an object can be put
// and removed under p's prefix). Local paths are not checked here. The
// error names the bucket and wraps ErrStorageSetup when the set-up is at
// fault (credentials, access, missing bucket).
func CheckStorage(ctx context.Context, p string, write bool) error {
	if !IsS3(p) {
		return nil
	}
	c, err := defaultStorage.s3()
	if err != nil {
		return err
	}
	return c.check(ctx, p, write)
}
