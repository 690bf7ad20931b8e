def execute_command(image):
    image_patch = ImagePatch(image)
    if image_patch.exists("dog"):
        if image_patch.exists("leash"):
            return "walking"
        answer = "dog"
    else:
        answer = "no dog"
    return answer
