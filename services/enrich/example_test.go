package enrich_test

import (
	"fmt"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/enrich"
)

func ExampleNormalize() {
	free, err := enrich.NewFreeMail(enrich.DefaultFreeMailDomains())
	if err != nil {
		panic(err)
	}
	c := enrich.NewClassifier(free)
	captured := time.Date(2025, 11, 20, 9, 14, 3, 0, time.UTC)

	for _, in := range []contracts.Lead{
		{Email: "  Ada.Lovelace@Example.COM ", FirstName: " Ada "},
		{Email: "bob@gmx.de", Domain: "https://www.acme.io/about"},
		{Email: "x@mailinator.com"},
		{Email: "Ada <ada@example.com>"},
	} {
		lead, reasons := enrich.Normalize(in, captured, c)
		if len(reasons) > 0 {
			fmt.Printf("rejected: %s %s\n", reasons[0].Field, reasons[0].Code)
			continue
		}
		fmt.Printf("%s domain=%q first_name=%q created_at=%s\n",
			lead.Email, lead.Domain, lead.FirstName, lead.CreatedAt.Format(time.RFC3339))
	}
	// Output:
	// ada.lovelace@example.com domain="example.com" first_name="Ada" created_at=2025-11-20T09:14:03Z
	// bob@gmx.de domain="acme.io" first_name="" created_at=2025-11-20T09:14:03Z
	// x@mailinator.com domain="" first_name="" created_at=2025-11-20T09:14:03Z
	// rejected: email invalid_format
}

func ExampleCompanyKey() {
	for _, name := range []string{"ACME, Inc.", "Acme Inc", "acme", "Müller GmbH & Co. KG", "Société Générale S.A."} {
		fmt.Printf("%-22q → %q\n", name, enrich.CompanyKey(name))
	}
	// Output:
	// "ACME, Inc."           → "acme"
	// "Acme Inc"             → "acme"
	// "acme"                 → "acme"
	// "Müller GmbH & Co. KG" → "muller"
	// "Société Générale S.A." → "societe generale"
}
