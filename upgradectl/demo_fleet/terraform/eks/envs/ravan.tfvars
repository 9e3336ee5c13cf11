region                       = "ap-south-1"
cluster_name                 = "ravan"
environment                  = "prod"
karpenter_version            = "v0.31.3"
enable_interruption_handling = true

tags = {
  "cost-center" = "platform-prod"
  "owner"       = "platform-team"
}
