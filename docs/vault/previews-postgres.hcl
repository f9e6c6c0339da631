path "secret/data/finance_report/previews/+/postgres" {
  capabilities = ["read"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
