path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-production-app" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-production-backup" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-production-postgres" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-production-redis" {
  capabilities = ["read"]
}

path "secret/data/finance_report/production/app" {
  capabilities = ["read"]
}

path "secret/data/finance_report/production/backup" {
  capabilities = ["read"]
}

path "secret/data/finance_report/production/postgres" {
  capabilities = ["read"]
}

path "secret/data/finance_report/production/redis" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/app" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/backup" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/postgres" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/production/redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-app" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-backup" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-postgres" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-app/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-backup/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-postgres/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-redis/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-production-app/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-backup/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-postgres/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/finance_report-production-redis/secret-id-accessor/lookup" {
  capabilities = ["update"]
}
