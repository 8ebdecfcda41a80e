package jsonalike_test

import (
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

func ExampleParse() {
	for _, doc := range []string{`{"email":"ada@example.com"}`, `{"name":"\ud800"}`} {
		var email string
		ok := jsonalike.Parse([]byte(doc), func(v *fastjson.Value) {
			email = string(v.GetStringBytes("email"))
		})
		fmt.Printf("%v %q\n", ok, email)
	}
	// Output:
	// true "ada@example.com"
	// false ""
}

func ExampleDecode() {
	doc, ok := jsonalike.Decode([]byte(`{"email":"ada@example.com","employees":1200}`))
	fmt.Println(ok, doc)
	_, ok = jsonalike.Decode([]byte(`{"name":"\ud800"}`)) // encoding/json's to read
	fmt.Println(ok)
	// Output:
	// true map[email:ada@example.com employees:1200]
	// false
}

func ExampleUnmarshal() {
	var lead struct {
		Email string `json:"email"`
		Score int    `json:"score"`
	}
	err := jsonalike.Unmarshal([]byte(`{"email":"ada@example.com","score":87}`), &lead)
	fmt.Println(lead.Email, lead.Score, err)

	var bad struct {
		Score int `json:"score"`
	}
	err = jsonalike.Unmarshal([]byte(`{"score":"high"}`), &bad) // encoding/json's error
	fmt.Println(err)
	// Output:
	// ada@example.com 87 <nil>
	// json: cannot unmarshal string into Go struct field .score of type int
}
