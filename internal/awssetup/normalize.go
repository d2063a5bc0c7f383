package awssetup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// plain turns a document (an SDK type, a Policy, a map) into generic JSON
// values with null values, empty objects and empty lists removed, so that a
// document read back from S3 and the one s3thumb builds compare equal when
// they say the same thing. SDK types marshal with their API member names,
// which are also the names the AWS CLI reads.
func plain(doc any) (any, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	v, _ = prune(v)
	return v, nil
}

// enumMembers are the members of the S3 documents here whose values are
// SDK enums: named string types whose zero value means "not set", which the
// JSON encoder writes as "". (A *string member set to "" means something,
// e.g. ReplaceKeyPrefixWith "" removes the prefix, so only these go.)
var enumMembers = map[string]bool{
	"Protocol":            true, // Redirect, RedirectAllRequestsTo
	"Status":              true, // LifecycleRule
	"StorageClass":        true, // Transition
	"PartitionDateSource": true, // logging's PartitionedPrefix
	"Permission":          true, // logging's TargetGrant
	"Type":                true, // Grantee
}

// prune drops nulls, empty objects and lists, and unset enums, recursively.
// It reports whether anything is left.
func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == "" && enumMembers[k] {
				delete(x, k)
				continue
			}
			if e, ok := prune(e); ok {
				x[k] = e
			} else {
				delete(x, k)
			}
		}
		return x, len(x) > 0
	case []any:
		out := x[:0]
		for _, e := range x {
			if e, ok := prune(e); ok {
				out = append(out, e)
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

// policyForm normalises what the policy grammar lets be written in several
// ways: a list of one value is that value, and the order of a list of
// strings (actions, resources, principals) does not matter.
func policyForm(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = policyForm(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = policyForm(e)
		}
		if len(x) == 1 {
			return x[0]
		}
		if strs, ok := allStrings(x); ok {
			slices.Sort(strs)
			out := make([]any, len(strs))
			for i, s := range strs {
				out[i] = s
			}
			return out
		}
		return x
	}
	return v
}

func allStrings(x []any) ([]string, bool) {
	out := make([]string, len(x))
	for i, e := range x {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// sameDocument reports whether two documents say the same thing.
func sameDocument(a, b any) (bool, error) {
	pa, err := plain(a)
	if err != nil {
		return false, err
	}
	pb, err := plain(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(pa, pb), nil
}

// samePolicy reports whether two policies say the same thing; see
// policyForm.
func samePolicy(a, b *Policy) (bool, error) {
	if a == nil || b == nil {
		return a == b, nil
	}
	pa, err := plain(a)
	if err != nil {
		return false, err
	}
	pb, err := plain(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(policyForm(pa), policyForm(pb)), nil
}

// indentJSON renders a document as the JSON that --dry-run prints: pruned
// as plain does, keys sorted, two-space indent.
func indentJSON(doc any) ([]byte, error) {
	v, err := plain(doc)
	if err != nil {
		return nil, err
	}
	return encodeIndented(v)
}

// encodeIndented encodes generic JSON values with a two-space indent.
func encodeIndented(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return buf.Bytes(), nil
}
