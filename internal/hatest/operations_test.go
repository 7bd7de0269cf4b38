package hatest

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestAsyncOperationOnAnyReplica: a resource-group delete started on
// replica a is polled to completion on replica b (behind a load balancer
// the poll may land on either), and an unknown operation is 404
// OperationNotFound on both.
func TestAsyncOperationOnAnyReplica(t *testing.T) {
	w := newWorld(t)
	arm := func(r *replica, method, path string, body any) result {
		return r.do(method, "https://localhost:"+r.env.Port()+path, r.armTok, body)
	}
	group := "/subscriptions/" + w.a.env.Instance.SubscriptionID + "/resourcegroups/polled?api-version=2021-04-01"
	if res := arm(w.a, "PUT", group, map[string]string{"location": "westus"}); res.status != 201 && res.status != 200 {
		t.Fatalf("create group: %s", res)
	}
	res := arm(w.a, "DELETE", group, nil)
	if res.status != 202 {
		t.Fatalf("delete group via a: %s", res)
	}
	for _, h := range []string{"Location", "Azure-AsyncOperation"} {
		loc, err := url.Parse(res.header.Get(h))
		if err != nil || loc.Path == "" {
			t.Fatalf("%s = %q", h, res.header.Get(h))
		}
		poll := arm(w.b, "GET", loc.RequestURI(), nil)
		var st struct{ Status string }
		if poll.status != 200 || json.Unmarshal(poll.body, &st) != nil || st.Status != "Succeeded" {
			t.Errorf("polling %s via b: %s", h, poll)
		}
	}
	if res := arm(w.b, "GET", group, nil); res.status != 404 {
		t.Errorf("deleted group via b: %s", res)
	}
	for _, r := range []*replica{w.a, w.b} {
		res := arm(r, "GET", "/subscriptions/"+r.env.Instance.SubscriptionID+"/operationresults/nosuchop?api-version=2021-04-01", nil)
		var e struct{ Error struct{ Code string } }
		if res.status != 404 || json.Unmarshal(res.body, &e) != nil || e.Error.Code != "OperationNotFound" {
			t.Errorf("unknown operation via %s: %s", r.name, res)
		}
	}
}
