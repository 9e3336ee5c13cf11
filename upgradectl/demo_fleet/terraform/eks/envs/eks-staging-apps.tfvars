region                       = "ap-south-1"
cluster_name                 = "eks-staging-apps"
environment                  = "staging"
karpenter_version            = "v0.31.3"
enable_interruption_handling = true

tags = {
  "cost-center" = "platform-nonprod"
  "owner"       = "platform-team"
}
