package affwatch.rules.trademark.domain_test

import data.affwatch.rules.trademark.domain

programs := {"acme": {"brand_terms": ["Acme Coffee", "Acme"], "landing_domains": ["acme.example"]}}

test_brand_in_domain_denied if {
	fs := domain.deny with input as {"url": "https://best-acme-deals.example/", "program": "acme"} with data.programs as programs
	count(fs) >= 1
}

test_brand_with_spaces_squeezed if {
	count(domain.deny) >= 1 with input as {"url": "https://acmecoffeereviews.example/", "program": "acme"} with data.programs as programs
}

test_program_own_domain_passes if {
	count(domain.deny) == 0 with input as {"url": "https://shop.acme.example/", "program": "acme"} with data.programs as programs
}

test_unrelated_domain_passes if {
	count(domain.deny) == 0 with input as {"url": "https://goodreviews.example/", "program": "acme"} with data.programs as programs
}
