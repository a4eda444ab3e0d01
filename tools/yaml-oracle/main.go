// Command yaml-oracle reads YAML as kubectl does, for ambdiff's tests.
//
// Standard input is a JSON array of YAML streams (the text of whole files). Each stream is
// split into documents by k8s.io/apimachinery's YAMLReader (what kubectl's file reader uses)
// and each document is converted by sigs.k8s.io/yaml.YAMLToJSON. Documents that convert to
// nothing or to null are dropped, as kubectl's resource builder drops them. Standard output is
// a JSON array with one result per stream: {"docs": [<JSON>...]} or {"error": "<text>"}.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml" // wraps go.yaml.in/yaml/v2, pinned in go.mod
)

type result struct {
	Docs  *[]json.RawMessage `json:"docs,omitempty"`
	Error *string            `json:"error,omitempty"`
}

func read(stream string) (res result) {
	defer func() {
		if r := recover(); r != nil {
			text := fmt.Sprintf("panic: %v", r)
			res = result{Error: &text}
		}
	}()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(stream))))
	docs := []json.RawMessage{}
	res.Docs = &docs
	for {
		chunk, err := reader.Read()
		if err == io.EOF {
			return res
		}
		if err != nil {
			text := err.Error()
			return result{Error: &text}
		}
		out, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			text := err.Error()
			return result{Error: &text}
		}
		out = bytes.TrimSpace(out)
		if len(out) == 0 || bytes.Equal(out, []byte("null")) {
			continue
		}
		docs = append(docs, json.RawMessage(out))
	}
}

func main() {
	var streams []string
	if err := json.NewDecoder(os.Stdin).Decode(&streams); err != nil {
		fmt.Fprintln(os.Stderr, "yaml-oracle: standard input must be a JSON array of strings:", err)
		os.Exit(2)
	}
	results := make([]result, len(streams))
	for i, stream := range streams {
		results[i] = read(stream)
	}
	out, err := json.Marshal(results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yaml-oracle:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
