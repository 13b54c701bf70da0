// kstatus prints what sigs.k8s.io/cli-utils' kstatus (the library Flux and kpt use to wait
// for resources) computes for Kubernetes objects.
//
//	kstatus < OBJECT.json   one JSON line per object: {"status":..,"message":..,"conditions":[..]}
//	                        (stdin: one object, or a List of them)
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status     string             `json:"status"`
	Message    string             `json:"message"`
	Conditions []status.Condition `json:"conditions"`
}

func objects(data []byte) ([]*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		// UnmarshalJSON rejects a List without kind on its items; fall through to List.
		list := &unstructured.UnstructuredList{}
		if lerr := list.UnmarshalJSON(data); lerr != nil {
			return nil, err
		}
		return listItems(list), nil
	}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return nil, err
		}
		return listItems(list), nil
	}
	return []*unstructured.Unstructured{obj}, nil
}

func listItems(list *unstructured.UnstructuredList) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

func main() {
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: kstatus < OBJECT.json")
		os.Exit(2)
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	objs, err := objects(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	for _, obj := range objs {
		res, err := status.Compute(obj)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = out.Encode(result{Status: res.Status.String(), Message: res.Message,
			Conditions: res.Conditions})
	}
}
