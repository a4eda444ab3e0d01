// Command zero-fields writes the table ambdiff reads to tell which fields of the built-in
// kinds the API server drops when they hold their zero value (ambdiff/data/zero-omitted.json).
//
// The API server serialises objects with encoding/json: a field whose Go type is a
// non-pointer bool, integer, float or string (or a []byte) and whose json tag says
// `omitempty` (or `omitzero`) is left out when it is false, 0 or "". So git's
// `minReadySeconds: 0` never comes back from the server. Pointer fields (`replicas`,
// `automountServiceAccountToken`) keep their zero: absent means unset.
//
// The table is found by reflection over the Go types of the pinned Kubernetes version:
// every kind registered in client-go's scheme (external versions; no *List kinds, no
// *Options kinds, nothing from meta/v1 such as Status or WatchEvent), plus
// apiextensions.k8s.io/v1 (CustomResourceDefinition) and apiregistration.k8s.io/v1
// (APIService). Structs, inline embedding, pointers to structs, slices/arrays ("[]") and map
// values ("{}") are followed; types with their own JSON encoding (metav1.Time,
// resource.Quantity, intstr.IntOrString, runtime.RawExtension, ...) are leaves that are never
// dropped. TypeMeta (apiVersion, kind) is left out: the server always sets it.
//
// Output: {"source": ..., "kinds": {"<group>/<version>/<Kind>": "<type>"}, "types": {"<type>":
// {"<jsonField>": true | "<type>" | {"[]": ...} | {"{}": ...}}}}, where true marks a field
// dropped at its zero value and only types that lead to such a field are listed. Keys are
// sorted and there is one entry per line, so regeneration is byte-identical and reviewable.
//
// Usage: go run . -o ../../ambdiff/data/zero-omitted.json   (or: go run . > file)
package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// The modules whose versions the output names.
var sourceModules = []string{
	"k8s.io/api",
	"k8s.io/apiextensions-apiserver",
	"k8s.io/apimachinery",
	"k8s.io/client-go",
	"k8s.io/kube-aggregator",
}

// Shorter names for the packages the types live in: "core/v1.PodSpec", "meta/v1.ObjectMeta".
var packagePrefixes = []string{
	"k8s.io/api/",
	"k8s.io/apimachinery/pkg/apis/",
	"k8s.io/apiextensions-apiserver/pkg/apis/",
	"k8s.io/kube-aggregator/pkg/apis/",
}

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	typeMetaType      = reflect.TypeOf(metav1.TypeMeta{})
)

// desc describes what a JSON value of some Go type holds: a dropped-at-zero leaf, a struct
// to descend into, or list items / map values of some other desc. nil: nothing of interest.
type desc interface{ isDesc() }

type droppedLeaf struct{}

type structRef struct{ t reflect.Type }

type container struct {
	key  string // "[]" for list items, "{}" for map values
	elem desc
}

func (droppedLeaf) isDesc() {}
func (structRef) isDesc()   {}
func (container) isDesc()   {}

type field struct {
	name string
	d    desc
}

type analyzer struct {
	fields map[reflect.Type][]field // every struct type seen, with its fields of interest
	names  map[string]reflect.Type  // short name -> type, to catch collisions
	useful map[reflect.Type]bool    // leads to at least one dropped-at-zero leaf
}

func customJSON(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(marshalerType) || pt.Implements(marshalerType) ||
		t.Implements(textMarshalerType) || pt.Implements(textMarshalerType)
}

func scalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func typeName(t reflect.Type) string {
	pkg := t.PkgPath()
	for _, prefix := range packagePrefixes {
		if strings.HasPrefix(pkg, prefix) {
			return strings.TrimPrefix(pkg, prefix) + "." + t.Name()
		}
	}
	return pkg + "." + t.Name()
}

func (a *analyzer) name(t reflect.Type) string {
	n := typeName(t)
	if other, ok := a.names[n]; ok && other != t {
		fail("two types named %s: %s and %s", n, other.PkgPath(), t.PkgPath())
	}
	a.names[n] = t
	return n
}

// valueDesc: what a value of type t (a list item, a map value, a field) leads to.
func (a *analyzer) valueDesc(t reflect.Type) desc {
	if customJSON(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return a.valueDesc(t.Elem())
	case reflect.Struct:
		if t.Name() == "" {
			fail("anonymous struct type %s", t)
		}
		a.visit(t)
		return structRef{t}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte: a base64 string
		}
		if d := a.valueDesc(t.Elem()); d != nil {
			return container{"[]", d}
		}
	case reflect.Map:
		if d := a.valueDesc(t.Elem()); d != nil {
			return container{"{}", d}
		}
	}
	return nil
}

// fieldDesc: what a struct field of type t with the given json tag options leads to.
func (a *analyzer) fieldDesc(t reflect.Type, opts []string) desc {
	omit := false
	for _, o := range opts {
		if o == "omitempty" || o == "omitzero" {
			omit = true
		}
	}
	// encoding/json tests omitempty before it calls a type's own MarshalJSON, so a named
	// scalar type with custom encoding is dropped at zero as well.
	if scalarKind(t.Kind()) || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
		if omit {
			return droppedLeaf{}
		}
		return nil
	}
	return a.valueDesc(t)
}

func (a *analyzer) visit(t reflect.Type) {
	if _, seen := a.fields[t]; seen {
		return
	}
	a.fields[t] = nil // mark first: types can be recursive (JSONSchemaProps)
	a.name(t)
	var out []field
	names := map[string]bool{}
	a.collect(t, &out, names)
	a.fields[t] = out
}

// collect appends t's JSON fields, inlining embedded structs the way encoding/json does
// (outer fields win over promoted ones).
func (a *analyzer) collect(t reflect.Type, out *[]field, names map[string]bool) {
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		name, opts := parts[0], parts[1:]
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if et != typeMetaType {
					embedded = append(embedded, et)
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if names[name] {
			continue
		}
		names[name] = true
		if d := a.fieldDesc(ft, opts); d != nil {
			*out = append(*out, field{name, d})
		}
	}
	for _, et := range embedded {
		if customJSON(et) {
			fail("embedded type %s with custom JSON encoding in %s", et, t)
		}
		a.collect(et, out, names)
	}
}

func (a *analyzer) descUseful(d desc) bool {
	switch d := d.(type) {
	case droppedLeaf:
		return true
	case structRef:
		return a.useful[d.t]
	case container:
		return a.descUseful(d.elem)
	}
	return false
}

// solve marks the types that lead to a dropped leaf (a fixed point: types can be recursive).
func (a *analyzer) solve() {
	for changed := true; changed; {
		changed = false
		for t, fs := range a.fields {
			if a.useful[t] {
				continue
			}
			for _, f := range fs {
				if a.descUseful(f.d) {
					a.useful[t] = true
					changed = true
					break
				}
			}
		}
	}
}

func (a *analyzer) encode(d desc) any {
	switch d := d.(type) {
	case droppedLeaf:
		return true
	case structRef:
		return typeName(d.t)
	case container:
		return map[string]any{d.key: a.encode(d.elem)}
	}
	panic("unreachable")
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zero-fields: "+format+"\n", args...)
	os.Exit(1)
}

func skipKind(kind string, t reflect.Type) bool {
	return strings.HasSuffix(kind, "List") || strings.HasSuffix(kind, "Options") ||
		strings.HasPrefix(t.PkgPath(), "k8s.io/apimachinery/pkg/apis/meta/")
}

func sourceVersions() map[string]string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fail("no build information: build this as a module (go run . / go build)")
	}
	versions := map[string]string{}
	for _, dep := range info.Deps {
		m := dep
		if m.Replace != nil {
			m = m.Replace
		}
		for _, want := range sourceModules {
			if dep.Path == want {
				versions[want] = m.Version
			}
		}
	}
	for _, want := range sourceModules {
		if versions[want] == "" {
			fail("no version for %s in the build information", want)
		}
	}
	return versions
}

func mustJSON(v any) string {
	b, err := json.Marshal(v) // maps: keys sorted
	if err != nil {
		fail("%v", err)
	}
	return string(b)
}

func main() {
	outPath := flag.String("o", "", "write the table to this file (default: standard output)")
	flag.Parse()

	extras := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		apiextensionsv1.AddToScheme, apiregistrationv1.AddToScheme,
	} {
		if err := add(extras); err != nil {
			fail("%v", err)
		}
	}

	a := &analyzer{
		fields: map[reflect.Type][]field{},
		names:  map[string]reflect.Type{},
		useful: map[reflect.Type]bool{},
	}
	kinds := map[string]reflect.Type{}
	for _, s := range []*runtime.Scheme{scheme.Scheme, extras} {
		for gvk, t := range s.AllKnownTypes() {
			if gvk.Version == runtime.APIVersionInternal || skipKind(gvk.Kind, t) {
				continue
			}
			key := gvk.Group + "/" + gvk.Version + "/" + gvk.Kind
			if other, ok := kinds[key]; ok && other != t {
				fail("%s registered as %s and %s", key, other, t)
			}
			a.visit(t)
			kinds[key] = t
		}
	}
	a.solve()

	var buf bytes.Buffer
	buf.WriteString("{\"source\":" + mustJSON(map[string]any{
		"generator": "tools/zero-fields",
		"modules":   sourceVersions(),
	}) + ",\n\"kinds\":{")
	writeEntries(&buf, sortedKeys(kinds), func(k string) string {
		return mustJSON(typeName(kinds[k]))
	})
	buf.WriteString("},\n\"types\":{")
	types := map[string][]field{}
	for t, fs := range a.fields {
		if !a.useful[t] {
			continue
		}
		var keep []field
		for _, f := range fs {
			if a.descUseful(f.d) {
				keep = append(keep, f)
			}
		}
		types[typeName(t)] = keep
	}
	writeEntries(&buf, sortedKeys(types), func(k string) string {
		m := map[string]any{}
		for _, f := range types[k] {
			m[f.name] = a.encode(f.d)
		}
		return mustJSON(m)
	})
	buf.WriteString("}}\n")

	if *outPath == "" {
		if _, err := os.Stdout.Write(buf.Bytes()); err != nil {
			fail("%v", err)
		}
		return
	}
	if err := os.WriteFile(*outPath, buf.Bytes(), 0o644); err != nil {
		fail("%v", err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeEntries writes "key":value pairs, one a line.
func writeEntries(buf *bytes.Buffer, keys []string, value func(string) string) {
	for i, k := range keys {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n" + mustJSON(k) + ":" + value(k))
	}
	buf.WriteString("\n")
}
