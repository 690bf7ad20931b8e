def execute_command(image):
    image_patch = ImagePatch(image)
    count = 0
    size = image_patch.width
    while size > 10 and count < 5:
        size = size // 2
        count += 1
    return str(count)
