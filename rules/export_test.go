package rules

// JSONInput exposes the JSON-built input for the test that the direct one agrees with it.
var JSONInput = jsonInput
