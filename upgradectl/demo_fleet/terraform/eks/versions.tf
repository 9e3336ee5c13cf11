terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.12"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.27"
    }
  }

  # One state per cluster:
  #   terraform init -backend-config="key=eks/<cluster>/karpenter.tfstate"
  #   terraform apply -var-file=envs/<cluster>.tfvars
  backend "s3" {
    bucket         = "livspace-demo-terraform-state"
    region         = "ap-south-1"
    dynamodb_table = "livspace-demo-terraform-locks"
    encrypt        = true
  }
}
