package arm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-dev/coffer/internal/errs"
)

// ARM's limits on resource tags (Azure Resource Manager, "Use tags to
// organize your Azure resources": 50 per resource, names up to 512
// characters, values up to 256, names without < > % & \ ? / or control
// characters, except under the hidden- and link: prefixes ARM keeps for
// itself).
const (
	maxTags         = 50
	maxTagNameLen   = 512
	maxTagValueLen  = 256
	tagNameReserved = `<>%&\?/`
)

// checkBodyTags applies checkTags to the top-level "tags" of an ARM
// request body, which is where every resource type carries them.
func checkBodyTags(body []byte) error {
	var probe struct {
		Tags map[string]json.RawMessage `json:"tags"`
	}
	if json.Unmarshal(body, &probe) != nil || probe.Tags == nil {
		return nil // not an object with tags; the handler's decoding judges it
	}
	tags := make(map[string]string, len(probe.Tags))
	for k, raw := range probe.Tags {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			tags[k] = v
		} else {
			tags[k] = string(raw) // a non-string value: its handler refuses the type
		}
	}
	return checkTags(tags)
}

// checkTags refuses tags ARM refuses, with ARM's codes and messages. The
// checks run in ARM's order: count, empty names, reserved characters,
// name lengths, value lengths; each lists every offending tag, sorted.
func checkTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return armErr(errs.Invalid, "InvalidTags", fmt.Sprintf("Too many tags specified. Requested tag count - '%d'. Maximum number of tags allowed - '%d'.", len(tags), maxTags))
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	slices.Sort(names)
	var badChars, longNames, longValues []string
	for _, k := range names {
		if strings.TrimSpace(k) == "" {
			return armErr(errs.Invalid, "InvalidTagName", "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.")
		}
		if reservedTagName(k) {
			badChars = append(badChars, k)
		}
		if utf8.RuneCountInString(k) > maxTagNameLen {
			longNames = append(longNames, k)
		}
		if utf8.RuneCountInString(tags[k]) > maxTagValueLen {
			longValues = append(longValues, tags[k])
		}
	}
	switch {
	case len(badChars) > 0:
		return armErr(errs.Invalid, "InvalidTagNameCharacters", "The tag names '"+strings.Join(badChars, ",")+"' have reserved characters '<,>,%,&,\\,?,/' or control characters.")
	case len(longNames) > 0:
		return armErr(errs.Invalid, "InvalidTagName", fmt.Sprintf("Tag key too large. Following tag name '%s' exceeded the maximum length. Maximum allowed length for tag name - '%d' characters.", strings.Join(longNames, ","), maxTagNameLen))
	case len(longValues) > 0:
		return armErr(errs.Invalid, "InvalidTagValueLength", fmt.Sprintf("Tag value too large. Following tag value '%s' exceeded the maximum length. Maximum allowed length for tag value - '%d' characters.", strings.Join(longValues, ","), maxTagValueLen))
	}
	return nil
}

func reservedTagName(k string) bool {
	lk := strings.ToLower(k)
	if strings.HasPrefix(lk, "hidden-") || strings.HasPrefix(lk, "link:") {
		return false
	}
	return strings.ContainsAny(k, tagNameReserved) || strings.ContainsFunc(k, unicode.IsControl)
}
