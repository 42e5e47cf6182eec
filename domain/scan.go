package domain

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The functions here split JSON text that json.Valid has accepted into object members and array
// elements without decoding it again. They must not be given unvalidated input.

var errNotObject = errors.New("not a JSON object")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// splitObject returns the members of the valid JSON text b, which must be one object.
func splitObject(b []byte) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotObject
	}
	var ms []member
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return ms, nil
	}
	for {
		end := skipString(b, i)
		key, err := unquote(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // ':'
		end = skipValue(b, i)
		ms = append(ms, member{key: key, val: b[i:end:end]})
		i = skipSpace(b, end)
		if b[i] == '}' {
			return ms, nil
		}
		i = skipSpace(b, i+1) // ','
	}
}

// splitArray returns the elements of the valid JSON text b, which must be one array.
func splitArray(b []byte) ([]json.RawMessage, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	var items []json.RawMessage
	i = skipSpace(b, i+1)
	if b[i] == ']' {
		return items, true
	}
	for {
		end := skipValue(b, i)
		items = append(items, json.RawMessage(b[i:end:end]))
		i = skipSpace(b, end)
		if b[i] == ']' {
			return items, true
		}
		i = skipSpace(b, i+1)
	}
}

// unquote decodes the valid JSON string literal q. Callers have checked the text is valid UTF-8.
func unquote(q []byte) (string, error) {
	if len(q) >= 2 && bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}
