package accesslog

import (
	"errors"
	"testing"
	"time"
)

func TestParseLogKey(t *testing.T) {
	delivered := time.Date(2026, 3, 1, 14, 5, 9, 0, time.UTC)
	tests := []struct {
		key  string
		want LogKey
	}{
		{"logs/2026-03-01-14-05-09-780444E7C9B1400B", LogKey{
			Layout: LayoutSimple, Prefix: "logs/", Time: delivered, Unique: "780444E7C9B1400B"}},
		{"2026-03-01-14-05-09-780444E7C9B1400B", LogKey{
			Layout: LayoutSimple, Time: delivered, Unique: "780444E7C9B1400B"}},
		{"access-2026-03-01-14-05-09-ABC.gz", LogKey{
			Layout: LayoutSimple, Prefix: "access-", Time: delivered, Unique: "ABC"}},
		{"logs/123456789012/us-east-1/thumbs/2026/02/28/2026-03-01-14-05-09-0A1B2C3D4E5F6789", LogKey{
			Layout: LayoutPartitioned, Prefix: "logs/", Time: delivered, Unique: "0A1B2C3D4E5F6789",
			Account: "123456789012", Region: "us-east-1", Bucket: "thumbs",
			Partition: time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)}},
		{"123456789012/eu-west-1/b/2026/03/01/2026-03-01-14-05-09-X", LogKey{
			Layout: LayoutPartitioned, Time: delivered, Unique: "X",
			Account: "123456789012", Region: "eu-west-1", Bucket: "b",
			Partition: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}},
		{"a/b/logs-123456789012/eu-west-1/b/2026/03/01/2026-03-01-14-05-09-X", LogKey{
			Layout: LayoutPartitioned, Prefix: "a/b/logs-", Time: delivered, Unique: "X",
			Account: "123456789012", Region: "eu-west-1", Bucket: "b",
			Partition: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}},
		// Not an account: a simple key whose prefix has date-like folders.
		{"logs/12345/eu-west-1/b/2026/03/01/2026-03-01-14-05-09-X", LogKey{
			Layout: LayoutSimple, Prefix: "logs/12345/eu-west-1/b/2026/03/01/", Time: delivered, Unique: "X"}},
		{"cf/EMLARXS9EXAMPLE.2026-03-01-14.RT4KCN4SGK9.gz", LogKey{
			Layout: LayoutCloudFront, Prefix: "cf/", Distribution: "EMLARXS9EXAMPLE",
			Time: time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), Unique: "RT4KCN4SGK9"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := ParseLogKey(tt.key)
			if err != nil {
				t.Fatalf("ParseLogKey: %v", err)
			}
			tt.want.Key = tt.key
			if got != tt.want {
				t.Errorf("ParseLogKey:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseLogKeyErrors(t *testing.T) {
	for _, key := range []string{
		"",
		"logs/",
		"logs/readme.txt",
		"logs/2026-03-01-14-05-09",          // no unique part
		"logs/2026-03-01-14-05-09-",         // empty unique part
		"logs/2026-03-01-14-05-09-AB_CD",    // not letters and digits
		"logs/2026-13-01-14-05-09-ABC",      // month 13
		"logs/2026-02-30-14-05-09-ABC",      // 30 February
		"logs/2026-03-01-24-05-09-ABC",      // hour 24
		"logs/2026-03-01 14-05-09-ABC",      // a space for a dash
		"logs/1969-12-31-23-59-59-ABC",      // before 1970
		"cf/E1.2026-03-01-14.RT4.txt",       // not .gz
		"cf/E1.2026-03-01.RT4.gz",           // no hour
		"cf/E-1.2026-03-01-14.RT4.gz",       // not a distribution ID
		"photos/img00042_200x200.jpg",       // an image
		"logs/2026-03-01-14-05-09-ABC/more", // a folder
	} {
		if lk, err := ParseLogKey(key); !errors.Is(err, ErrNotLogKey) {
			t.Errorf("ParseLogKey(%q) = %+v, %v; want ErrNotLogKey", key, lk, err)
		}
	}
}

func TestLogKeyBuilders(t *testing.T) {
	delivered := time.Date(2026, 3, 1, 14, 5, 9, 0, time.FixedZone("CET", 3600))
	simple := SimpleLogKey("logs/", delivered, "ABC123")
	if simple != "logs/2026-03-01-13-05-09-ABC123" {
		t.Errorf("SimpleLogKey = %q", simple)
	}
	part := PartitionedLogKey("logs/", "123456789012", "us-east-1", "thumbs", delivered.Add(-24*time.Hour), delivered, "ABC123")
	if part != "logs/123456789012/us-east-1/thumbs/2026/02/28/2026-03-01-13-05-09-ABC123" {
		t.Errorf("PartitionedLogKey = %q", part)
	}
	for _, key := range []string{simple, part} {
		lk, err := ParseLogKey(key)
		if err != nil {
			t.Fatalf("ParseLogKey(%q): %v", key, err)
		}
		if !lk.Time.Equal(delivered) || lk.Unique != "ABC123" || lk.Prefix != "logs/" {
			t.Errorf("ParseLogKey(%q) = %+v, want delivery %v, unique ABC123, prefix logs/", key, lk, delivered)
		}
	}
}
