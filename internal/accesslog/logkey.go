package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotLogKey is wrapped by ParseLogKey's errors: the key names no access
// log object in any layout known here.
var ErrNotLogKey = errors.New("not an access log object key")

// Layout is how an access log object's key is built.
type Layout uint8

// Log object key layouts.
const (
	LayoutUnknown Layout = iota
	// LayoutSimple is S3's PREFIX + "YYYY-mm-DD-HH-MM-SS-UNIQUE".
	LayoutSimple
	// LayoutPartitioned is S3's date-partitioned
	// PREFIX + "ACCOUNT/REGION/BUCKET/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UNIQUE".
	LayoutPartitioned
	// LayoutCloudFront is CloudFront's PREFIX + "DISTRIBUTION.YYYY-MM-DD-HH.UNIQUE.gz".
	LayoutCloudFront
)

func (l Layout) String() string {
	switch l {
	case LayoutSimple:
		return "simple"
	case LayoutPartitioned:
		return "partitioned"
	case LayoutCloudFront:
		return "cloudfront"
	}
	return "unknown"
}

// LogKey is a parsed access log object key.
type LogKey struct {
	Key    string
	Layout Layout
	// Prefix is what precedes the parts below: the logging target prefix.
	Prefix string
	// Time orders log objects: when S3 delivered the object (to the second),
	// or for CloudFront the hour its requests are from.
	Time   time.Time
	Unique string
	// Account, Region, Bucket and Partition (midnight UTC of YYYY/MM/DD: the
	// event or the delivery date, as the bucket's logging is set) are set for
	// LayoutPartitioned.
	Account, Region, Bucket string
	Partition               time.Time
	// Distribution is set for LayoutCloudFront.
	Distribution string
}

// ParseLogKey parses the key of an access log object in any Layout. A
// trailing ".gz" is allowed on S3 layouts too.
func ParseLogKey(key string) (LogKey, error) {
	lk := LogKey{Key: key}
	dir, base := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir, base = key[:i+1], key[i+1:]
	}
	if t, unique, head, ok := parseS3LogName(strings.TrimSuffix(base, ".gz")); ok {
		lk.Time, lk.Unique = t, unique
		if head == "" && parsePartition(dir, &lk) {
			lk.Layout = LayoutPartitioned
			return lk, nil
		}
		lk.Layout, lk.Prefix = LayoutSimple, dir+head
		return lk, nil
	}
	if dist, t, unique, ok := parseCloudFrontLogName(base); ok {
		lk.Layout, lk.Prefix, lk.Distribution, lk.Time, lk.Unique = LayoutCloudFront, dir, dist, t, unique
		return lk, nil
	}
	return LogKey{}, fmt.Errorf("%w: %q: want PREFIXYYYY-mm-DD-HH-MM-SS-UNIQUE, "+
		"PREFIXACCOUNT/REGION/BUCKET/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UNIQUE or PREFIXDISTRIBUTION.YYYY-MM-DD-HH.UNIQUE.gz",
		ErrNotLogKey, key)
}

// isAlnum reports whether s is one or more ASCII letters and digits.
func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)) {
			return false
		}
	}
	return true
}

// parseS3LogName splits "headYYYY-mm-DD-HH-MM-SS-UNIQUE".
func parseS3LogName(name string) (t time.Time, unique, head string, ok bool) {
	dash := strings.LastIndexByte(name, '-')
	if dash < 19 || !isAlnum(name[dash+1:]) {
		return time.Time{}, "", "", false
	}
	stamp := []byte(name[dash-19 : dash])
	for _, i := range []int{4, 7, 10, 13, 16} {
		if stamp[i] != '-' {
			return time.Time{}, "", "", false
		}
	}
	y, ok1 := digits4(stamp)
	mo, ok2 := digits2(stamp[5:])
	d, ok3 := digits2(stamp[8:])
	h, ok4 := digits2(stamp[11:])
	mi, ok5 := digits2(stamp[14:])
	s, ok6 := digits2(stamp[17:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, "", "", false
	}
	t, err := civilTime(y, mo, d, h, mi, s, 0)
	if err != nil {
		return time.Time{}, "", "", false
	}
	return t, name[dash+1:], name[:dash-19], true
}

// parsePartition reads "prefixACCOUNT/REGION/BUCKET/YYYY/MM/DD/" into lk.
// The prefix may end inside the account segment ("logs-123456789012/...").
func parsePartition(dir string, lk *LogKey) bool {
	segs := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	n := len(segs)
	if n < 6 {
		return false
	}
	accountSeg, region, bucket := segs[n-6], segs[n-5], segs[n-4]
	ys, ms, ds := segs[n-3], segs[n-2], segs[n-1]
	if len(accountSeg) < 12 || len(ys) != 4 || len(ms) != 2 || len(ds) != 2 {
		return false
	}
	account := accountSeg[len(accountSeg)-12:]
	y, ok1 := digits4([]byte(ys))
	mo, ok2 := digits2([]byte(ms))
	d, ok3 := digits2([]byte(ds))
	if !(ok1 && ok2 && ok3) || strings.Trim(account, "0123456789") != "" || bucket == "" ||
		region == "" || strings.Trim(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return false
	}
	partition, err := civilTime(y, mo, d, 0, 0, 0, 0)
	if err != nil {
		return false
	}
	lk.Account, lk.Region, lk.Bucket, lk.Partition = account, region, bucket, partition
	lk.Prefix = dir[:len(dir)-len(strings.Join(segs[n-6:], "/"))-1] + accountSeg[:len(accountSeg)-12]
	return true
}

// parseCloudFrontLogName splits "DISTRIBUTION.YYYY-MM-DD-HH.UNIQUE.gz".
func parseCloudFrontLogName(name string) (dist string, t time.Time, unique string, ok bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 4 || parts[3] != "gz" || !isAlnum(parts[0]) || !isAlnum(parts[2]) || len(parts[1]) != 13 {
		return "", time.Time{}, "", false
	}
	stamp := []byte(parts[1])
	if stamp[4] != '-' || stamp[7] != '-' || stamp[10] != '-' {
		return "", time.Time{}, "", false
	}
	y, ok1 := digits4(stamp)
	mo, ok2 := digits2(stamp[5:])
	d, ok3 := digits2(stamp[8:])
	h, ok4 := digits2(stamp[11:])
	if !(ok1 && ok2 && ok3 && ok4) {
		return "", time.Time{}, "", false
	}
	t, err := civilTime(y, mo, d, h, 0, 0, 0)
	if err != nil {
		return "", time.Time{}, "", false
	}
	return parts[0], t, parts[2], true
}

// SimpleLogKey builds prefix + "YYYY-mm-DD-HH-MM-SS-UNIQUE" for delivery
// time t (UTC). unique should be letters and digits.
func SimpleLogKey(prefix string, t time.Time, unique string) string {
	return prefix + t.UTC().Format("2006-01-02-15-04-05") + "-" + unique
}

// PartitionedLogKey builds
// prefix + "ACCOUNT/REGION/BUCKET/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UNIQUE"
// for partition date partition and delivery time t (both UTC).
func PartitionedLogKey(prefix, account, region, bucket string, partition, t time.Time, unique string) string {
	return prefix + account + "/" + region + "/" + bucket + "/" + partition.UTC().Format("2006/01/02") + "/" +
		SimpleLogKey("", t, unique)
}
