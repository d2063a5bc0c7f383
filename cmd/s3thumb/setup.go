package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/internal/awssetup"
)

const setupDescription = `Makes a bucket ready to serve thumbnails, in one idempotent step (a second run changes nothing
and says so):

  - static website hosting, with a routing rule that sends a missing key to the responder:
    KEY → 302 RESPONDER/resize?src=KEY (the bucket's other routing rules are kept)
  - a bucket policy letting anyone read (and list, see below) the bucket (other statements kept)
  - a lifecycle rule expiring objects tagged thumbnail=yes --expire-days after they were written
    (other rules kept; originals are never tagged, so never expire)
  - with --log-bucket: server access logging into --log-bucket/--log-prefix, for the analyzer
  - with --queue: the job queue and its dead-letter queue NAME-dlq (after --max-receives deliveries)

403 or 404: S3 answers 403, not 404, for a missing key unless the public may list the bucket.
By default setup grants the public s3:ListBucket and puts the routing rule on 404: misses reach
the responder, and anyone can list every key in the bucket. With --no-public-list the bucket stays
unlistable and the rule is put on 403: misses still reach the responder, and so does any other
request S3 refuses (the responder answers those 400 or 404). Choose --no-public-list when the key
list is private.

--dry-run reads the bucket and prints, as JSON, the exact documents setup would write (each in
the form the AWS CLI's put command takes) and the changes, and changes nothing.
--print-iam-policy ROLE prints the least-privilege IAM policy of a role (responder, worker,
analyzer, or setup itself) for --bucket, --queue and --log-bucket, and contacts nothing.

Not done by setup: DNS (a CNAME from the bucket's domain to its website endpoint) and HTTPS
(the website endpoint is HTTP only: put CloudFront in front). See the README.`

func setupCommand() *cli.Command {
	d := awssetup.DefaultConfig()
	var roles []string
	for _, r := range awssetup.Roles() {
		roles = append(roles, string(r))
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "bucket", Usage: "the bucket of originals and thumbnails, served as a website: name it after its domain (images.example.com)"},
		&cli.StringFlag{Name: "responder-url", Usage: "where misses are redirected: http(s)://HOST[:PORT][/PATH], the address of s3thumb serve"},
		&cli.StringFlag{Name: "index-document", Usage: "the website's index document (default: the bucket's own, else " + awssetup.DefaultIndexDocument + ")"},
		&cli.BoolFlag{Name: "no-public-list", Usage: "keep the bucket unlistable and put the routing rule on 403 instead of 404 (see above)"},
		&cli.IntFlag{Name: "expire-days", Value: d.ExpireDays, Usage: "expire thumbnails this many days after they were written; 0 removes s3thumb's lifecycle rule"},
		&cli.StringFlag{Name: "log-bucket", Usage: "send the bucket's server access logs to this (private) bucket"},
		&cli.StringFlag{Name: "log-prefix", Usage: "key prefix of the access logs in --log-bucket (default: BUCKET/)"},
		&cli.StringFlag{Name: "queue", Usage: "create the job queue NAME (or sqs://NAME) and its dead-letter queue NAME-dlq"},
		&cli.BoolFlag{Name: "events", Usage: "send the bucket's s3:ObjectCreated:* and s3:ObjectRemoved:* event notifications to --queue (configuration " + awssetup.NotificationID + ", merged with the bucket's others) and let S3 send there (a statement in the queue's policy)"},
		&cli.IntFlag{Name: "max-receives", Value: d.MaxReceives, Usage: "deliveries of a job before it moves to the dead-letter queue"},
		&cli.DurationFlag{Name: "visibility-timeout", Value: d.VisibilityTimeout, Usage: "how long a job a worker received stays hidden from other workers"},
		&cli.BoolFlag{Name: "create-bucket", Usage: "create the bucket and the log bucket (in --region) if they do not exist"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the documents and changes as JSON; change nothing"},
		&cli.StringFlag{Name: "print-iam-policy", Usage: "print the least-privilege IAM policy of a role: " + strings.Join(roles, ", ")},
		&cli.StringFlag{Name: "sqs-endpoint", Usage: "SQS endpoint URL for SQS-compatible servers"},
	}
	for _, f := range storeFlags() {
		if f.Names()[0] != "store" { // setup names its bucket with --bucket
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:        "setup",
		Usage:       "configure a bucket (website, routing rule, policy, lifecycle, logging) and the job queue for s3thumb",
		Description: setupDescription,
		Flags:       flags,
		Action:      runSetup,
	}
}

// setupConfig reads the flags into a setup configuration.
func setupConfig(c *cli.Context) awssetup.Config {
	cfg := awssetup.DefaultConfig()
	cfg.Bucket = c.String("bucket")
	cfg.ResponderURL = c.String("responder-url")
	cfg.IndexDocument = c.String("index-document")
	cfg.PublicList = !c.Bool("no-public-list")
	cfg.ExpireDays = c.Int("expire-days")
	cfg.LogBucket = c.String("log-bucket")
	cfg.LogPrefix = c.String("log-prefix")
	cfg.Queue = strings.TrimPrefix(c.String("queue"), "sqs://")
	cfg.MaxReceives = c.Int("max-receives")
	cfg.VisibilityTimeout = c.Duration("visibility-timeout")
	cfg.Events = c.Bool("events")
	cfg.CreateBucket = c.Bool("create-bucket")
	cfg.Region = c.String("region")
	return cfg
}

func runSetup(c *cli.Context) error {
	ctx := c.Context
	if _, err := newLogger(c); err != nil {
		return err
	}
	cfg := setupConfig(c)
	if role := c.String("print-iam-policy"); role != "" {
		return printIAMPolicy(c.App.Writer, awssetup.Role(role), cfg)
	}
	if err := cfg.Validate(); err != nil {
		return usageError{flagNames(err)}
	}
	awsCfg, err := loadAWSConfig(ctx, cfg.Region)
	if err != nil {
		return err
	}
	cfg.Region = awsCfg.Region
	s := awssetup.Setup{S3: s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if ep := c.String("s3-endpoint"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.UsePathStyle = c.Bool("s3-path-style")
	})}
	if cfg.Queue != "" {
		s.SQS = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
			if ep := c.String("sqs-endpoint"); ep != "" {
				o.BaseEndpoint = aws.String(ep)
			}
		})
	}
	dryRun := c.Bool("dry-run")
	plan, err := s.Run(ctx, cfg, dryRun)
	if err != nil {
		return setupError(cfg, err)
	}
	return printPlan(c.App.Writer, plan, dryRun)
}

// loadAWSConfig loads the standard AWS configuration and checks it has a
// region and credentials, so that neither fails later in the middle of a
// run.
func loadAWSConfig(ctx context.Context, region string) (aws.Config, error) {
	var load []func(*config.LoadOptions) error
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, usagef("no AWS region: set --region or AWS_REGION (the bucket's region)")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return cfg, fmt.Errorf("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "+
			"or AWS_PROFILE (after aws configure or aws sso login), or run where an instance or task role is available: %w", err)
	}
	return cfg, nil
}

// flagNames rewords a configuration error with the flags' names.
func flagNames(err error) error {
	msg := strings.TrimPrefix(err.Error(), awssetup.ErrInvalidConfig.Error()+": ")
	for _, r := range []struct{ field, flag string }{
		{"responder URL", "--responder-url"},
		{"log bucket", "--log-bucket"},
		{"log prefix", "--log-prefix"},
		{"bucket", "--bucket"},
		{"index document", "--index-document"},
		{"expire days", "--expire-days"},
		{"queue", "--queue"},
		{"max receives", "--max-receives"},
		{"visibility timeout", "--visibility-timeout"},
	} {
		if rest, ok := strings.CutPrefix(msg, r.field); ok {
			return fmt.Errorf("%s%s", r.flag, rest)
		}
	}
	return errors.New(msg)
}

// setupError adds to an error what to do about it.
func setupError(cfg awssetup.Config, err error) error {
	var (
		denied  *awssetup.AccessDeniedError
		creds   *awssetup.CredentialsError
		missing *awssetup.NotImplementedError
		other   *awssetup.WrongRegionError
	)
	switch {
	case errors.As(err, &denied) && denied.PublicPolicyBlocked():
		return fmt.Errorf("%w: the account's Block Public Access settings forbid public bucket policies; "+
			"a website bucket needs one: turn off BlockPublicPolicy and RestrictPublicBuckets for the account "+
			"(S3 console, Block Public Access settings for this account) and run setup again", err)
	case errors.As(err, &denied):
		return fmt.Errorf("%w: grant %s to the identity running setup "+
			"(s3thumb setup --print-iam-policy setup prints everything setup needs)", err, denied.Action)
	case errors.As(err, &creds):
		return fmt.Errorf("%w: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", err)
	case errors.As(err, &missing) && missing.Part == "lifecycle":
		return fmt.Errorf("%w: this server cannot expire thumbnails by tag; run with --expire-days 0 to leave the lifecycle rule out", err)
	case errors.As(err, &missing) && missing.Part == "logging":
		return fmt.Errorf("%w: this server cannot write access logs; run without --log-bucket", err)
	case errors.As(err, &other):
		return fmt.Errorf("%w: run with --region %s (or AWS_REGION=%s)", err, other.Region, other.Region)
	case errors.Is(err, awssetup.ErrNoBucket) && !cfg.CreateBucket:
		return fmt.Errorf("%w: create it first, or run with --create-bucket", err)
	case errors.Is(err, awssetup.ErrInvalidConfig):
		return usageError{flagNames(err)}
	}
	return err
}

// printPlan prints a dry run's documents as JSON, or what a run changed.
func printPlan(w io.Writer, plan awssetup.Plan, dryRun bool) error {
	if dryRun {
		out, err := plan.JSON()
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	if len(plan.Changes) == 0 {
		_, err := fmt.Fprintf(w, "no changes: s3://%s is already set up\n", plan.Bucket)
		return err
	}
	for _, ch := range plan.Changes {
		if _, err := fmt.Fprintln(w, ch); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "s3://%s is set up: %d changes\n", plan.Bucket, len(plan.Changes))
	return err
}

// printIAMPolicy prints a role's policy; it contacts nothing.
func printIAMPolicy(w io.Writer, role awssetup.Role, cfg awssetup.Config) error {
	p, err := awssetup.IAMPolicy(role, cfg)
	if errors.Is(err, awssetup.ErrUnknownRole) {
		return usagef("--print-iam-policy: %w", err)
	}
	if err != nil {
		return usagef("--print-iam-policy %s: %w", role, flagNames(err))
	}
	out, err := awssetup.PolicyJSON(p)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
