def execute_command(image):
    image_patch = ImagePatch(image)
    if image_patch.exists("dog"):
        answer = "dog"
    elif image_patch.exists("cat"):
        answer = "cat"
    else:
        answer = image_patch.simple_query("What animal is this?")
    return answer
