region                       = "ap-south-1"
cluster_name                 = "dev-apps"
environment                  = "dev"
karpenter_version            = "v0.31.5"
enable_interruption_handling = false

tags = {
  "cost-center" = "platform-nonprod"
  "owner"       = "platform-team"
}
